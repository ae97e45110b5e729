/**
 * @module features/stream/hub
 * The live tail of one replica: its subscribers, and one feed shared by all of them. While anyone
 * is subscribed, the feed reads what OpenSearch stored since its last look — the new events of
 * every tenant subscribed here, one search per shard per poll, whatever the number of subscribers —
 * and hands each event to the subscribers of its tenant whose filters it matches. Events written
 * through any replica are found, because the feed reads the store, not this replica's ingest.
 *
 * A client that resumes (Last-Event-ID) behind the feed first catches up with its own filtered
 * reads up to the feed's position, then joins the feed in the same synchronous step, so nothing
 * falls between the two.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { StreamSettings } from "../../config.ts";
import { Unavailable } from "../../errors.ts";
import { eventFilter } from "../../filters/filters.match.ts";
import type { Filters } from "../../filters/filters.ts";
import type { StreamMetrics } from "../../http/metrics.ts";
import type { Logger } from "../../logger.ts";
import { AUDIT_STREAM } from "../../opensearch/names.ts";
import type { Position } from "../../opensearch/position.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { catchUp } from "./stream.catchup.ts";
import { Feed } from "./stream.feed.ts";
import { StreamLimits } from "./stream.limits.ts";
import { assertReachable, type Store } from "./stream.store.ts";
import { type EndReason, type StreamFormat, Subscriber } from "./stream.subscriber.ts";

const RETRY_MS = 2000;
const MAX_DELAY_MS = 2 ** 31 - 1;

export class StreamHub {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #settings: StreamSettings;
  readonly #metrics: StreamMetrics | undefined;
  readonly #all = new Set<Subscriber>();
  readonly #limits: StreamLimits;
  readonly #feed: Feed;
  #heartbeat: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(deps: {
    client: Client;
    log: Logger;
    settings: StreamSettings;
    metrics?: StreamMetrics;
    /** The data stream to follow (the audit events unless a test says otherwise). */
    stream?: string;
  }) {
    this.#store = { client: deps.client, stream: deps.stream ?? AUDIT_STREAM };
    this.#log = deps.log;
    this.#settings = deps.settings;
    this.#metrics = deps.metrics;
    this.#limits = new StreamLimits(deps.settings);
    this.#feed = new Feed({
      store: this.#store,
      settings: deps.settings,
      log: deps.log,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      active: () => this.#all.size > 0 && !this.#closing,
      tenants: () => this.#limits.tenants(),
      end: (sub, reason) => this.#end(sub, reason),
    });
  }

  /**
   * Registers a client. Without a position it starts at the feed's current position (events
   * stored from now on); with one it first catches up. 429 beyond the limits, 400 for a position
   * the store has not reached, 503 while closing. The stream ends at `until` (the token's expiry).
   */
  async subscribe(req: {
    tenant: Tenant;
    filters: Filters;
    format?: StreamFormat;
    from?: Position;
    until?: number;
  }): Promise<Subscriber> {
    if (this.#closing) throw new Unavailable("the server is shutting down", 1);
    const tenant = req.tenant.id;
    this.#limits.admit(tenant);
    let head: Position;
    try {
      if (req.from) await assertReachable(this.#store, req.from);
      head = await this.#feed.position();
      // close() may have run meanwhile; it would not know this stream.
      if (this.#closing) throw new Unavailable("the server is shutting down", 1);
    } catch (err) {
      this.#limits.release(tenant);
      throw err;
    }
    const sub: Subscriber = new Subscriber({
      tenant: req.tenant,
      accepts: eventFilter(req.filters),
      ...(req.format ? { format: req.format } : {}),
      pos: req.from ?? head,
      bufferBytes: this.#settings.clientBufferBytes,
      retryMs: RETRY_MS,
      onGone: () => this.#remove(sub),
    });
    this.#all.add(sub);
    this.#metrics?.subscribers.set(this.#all.size);
    this.#heartbeat ??= setInterval(() => {
      for (const s of this.#all) s.heartbeat();
    }, this.#settings.heartbeatMs).unref();
    if (req.until !== undefined) this.#endAt(sub, req.until);
    void catchUp(sub, req.filters, {
      store: this.#store,
      settings: this.#settings,
      feed: this.#feed,
      end: (s, reason) => this.#end(s, reason),
      log: this.#log,
      ...(this.#metrics ? { sent: this.#metrics.sent } : {}),
    });
    this.#feed.start();
    return sub;
  }

  /** Ends every stream with a final message and waits (at most the grace period) for them to close. */
  async close(): Promise<void> {
    this.#closing = true;
    const subs = [...this.#all];
    for (const sub of subs) this.#end(sub, "shutdown");
    await Promise.all(subs.map((s) => s.closed));
    clearInterval(this.#heartbeat);
  }

  get size(): number {
    return this.#all.size;
  }

  /** Ends the stream at the token's expiry. */
  #endAt(sub: Subscriber, until: number): void {
    let expiry: NodeJS.Timeout;
    // setTimeout fires at once beyond 2^31-1 ms (~24.8 days): re-arm until the token is near its end.
    const arm = () => {
      const left = until - Date.now();
      expiry = setTimeout(
        left > MAX_DELAY_MS ? arm : () => this.#end(sub, "token_expired"),
        Math.min(left, MAX_DELAY_MS),
      );
    };
    arm();
    void sub.closed.then(() => clearTimeout(expiry));
  }

  #end(sub: Subscriber, reason: EndReason): void {
    if (sub.gone) return;
    this.#metrics?.ended.inc({ reason });
    sub.end(reason, { dropQueued: reason === "slow_client", graceMs: this.#settings.closeGraceMs });
  }

  #remove(sub: Subscriber): void {
    if (!this.#all.delete(sub)) return;
    this.#feed.detach(sub);
    this.#limits.release(sub.tenant.id);
    this.#metrics?.subscribers.set(this.#all.size);
  }
}

export type { StreamSettings };
