/**
 * @module opensearch/health
 * Whether OpenSearch can serve right now: the readiness probe, run in the background and on every
 * /readyz, is the circuit breaker's input. While the store is known to be down or stalled, requests
 * are refused at once (503 + Retry-After) instead of each waiting out its own timeout, and requests
 * already waiting on it are cut short (opensearch/deadline). One probe that times out could be a
 * pause; two in a row, or a refused connection, mean down. One answer means up again.
 */
import type { Client } from "@opensearch-project/opensearch";
import { outsideRequests } from "./deadline.ts";

export interface HealthSettings {
  /** How often the background probe runs. */
  probeIntervalMs: number;
  /** How long a probe waits for the cluster's answer. */
  probeTimeoutMs: number;
}

export const DEFAULT_HEALTH: HealthSettings = { probeIntervalMs: 1000, probeTimeoutMs: 2000 };

/** Timed-out probes in a row that open the breaker (a refused connection opens it at once). */
const STALLED_AFTER = 2;

export class StoreHealth {
  readonly #client: Client;
  readonly #settings: HealthSettings;
  #down = false;
  #stalls = 0;
  #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #probing: Promise<boolean> | undefined;
  #probedAt = 0;

  constructor(client: Client, settings: HealthSettings = DEFAULT_HEALTH) {
    this.#client = client;
    this.#settings = settings;
  }

  /** True while OpenSearch is known to be down or stalled. */
  get down(): boolean {
    return this.#down;
  }

  /** Seconds a refused client should wait: about two probes, when the breaker may have closed. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((2 * this.#settings.probeIntervalMs) / 1000));
  }

  /** Calls `fn` when the breaker opens; returns the unsubscribe. */
  onDown(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** A request could not reach the store at all (refused, reset twice): down without waiting for a probe. */
  unreachable(): void {
    this.#set(true);
  }

  /** Asks the cluster now (concurrent callers share one probe); updates the breaker; true when up. */
  probe(): Promise<boolean> {
    this.#probing ??= this.#ask().finally(() => {
      this.#probing = undefined;
      this.#probedAt = Date.now();
    });
    return this.#probing;
  }

  /**
   * Whether to let a request through. While down, with the background probe running, the answer
   * is at once (the probe closes the breaker); without it, a request probes when the last probe is
   * older than the interval — the breaker's half-open step — so the breaker still closes.
   */
  async recheck(): Promise<boolean> {
    if (!this.#down) return true;
    if (this.#timer) return false;
    if (this.#probing || Date.now() - this.#probedAt >= this.#settings.probeIntervalMs) return this.probe();
    return false;
  }

  /** Probes every `probeIntervalMs` until `stop`. */
  start(): void {
    const loop = () => {
      void this.probe().finally(() => {
        if (this.#timer) this.#timer = setTimeout(loop, this.#settings.probeIntervalMs);
      });
    };
    this.#timer = setTimeout(loop, 0);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #ask(): Promise<boolean> {
    try {
      const res = await outsideRequests(() =>
        this.#client.cluster.health({}, { requestTimeout: this.#settings.probeTimeoutMs, maxRetries: 0 }),
      );
      this.#stalls = 0;
      const up = res.body.status !== "red";
      this.#set(!up);
      return up;
    } catch (err) {
      if ((err as Error).name === "TimeoutError" && ++this.#stalls < STALLED_AFTER) return !this.#down;
      this.#set(true);
      return false;
    }
  }

  #set(down: boolean): void {
    if (down === this.#down) return;
    this.#down = down;
    if (down) for (const fn of [...this.#listeners]) fn();
  }
}
