/**
 * @module features/delivery/deliverer
 * Sends each active destination's events to its receiver, in store order, at least once. Every
 * replica runs one; a destination is leased (its state document, written over the version read)
 * to one replica at a time, so destinations spread over replicas and a dead replica's are taken
 * over once its lease runs out. Per destination: read a batch from the stored position, send it,
 * and only once the receiver acknowledged it store the position past it — a crash re-sends at most
 * that batch, and every message carries its event id. A failing receiver is retried with
 * exponential back-off and full jitter for as long as its events are within retention — never
 * disabled, never skipped — and each destination runs on its own, so one never holds up another.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as wait } from "node:timers/promises";
import type { Client } from "@opensearch-project/opensearch";
import type { DeliverySettings } from "../../config.ts";
import type { SecretResolver } from "../../destinations/credentials.ts";
import { DestinationError } from "../../destinations/errors.ts";
import { type Outgoing, openReceiver, type Receiver } from "../../destinations/receiver.ts";
import type { StoredEvent } from "../../events/event.mapping.ts";
import { isoMicros } from "../../events/time.ts";
import { resolve } from "../../filters/filters.ts";
import { type Format, formatEvent } from "../../formats/formats.ts";
import type { DeliveryMetrics } from "../../http/metrics.ts";
import { PeriodicJob } from "../../jobs/periodic.ts";
import type { Logger } from "../../logger.ts";
import { DESTINATIONS_INDEX } from "../../opensearch/names.ts";
import { reached } from "../../opensearch/position.ts";
import type { Store } from "../../opensearch/progress.ts";
import { tenantScope } from "../../tenancy/retention.ts";
import {
  type DestinationDoc,
  loadDestination,
  loadState,
  type StateDoc,
  type Versioned,
  writeState,
} from "./delivery.documents.ts";
import { allDestinations } from "./delivery.query.ts";
import { readBatch } from "./delivery.reader.ts";

export interface DelivererDeps {
  client: Client;
  /** The audit events' data stream (tests use their own). */
  store: Store;
  log: Logger;
  secrets: SecretResolver;
  allowlist: readonly string[];
  settings: Omit<DeliverySettings, "worker">;
  metrics?: DeliveryMetrics;
  now?: () => Date;
}

/** A stored event as the destination's format has it. */
export function outgoing(doc: StoredEvent, format: Format, tenant: string): Outgoing {
  const e = doc.event;
  return {
    id: e.id,
    time: e.timestamp,
    action: e.action,
    subject: e.path,
    success: e.success,
    data: formatEvent(format, e, tenant, doc.ingested),
  };
}

export class Deliverer {
  readonly #deps: DelivererDeps;
  readonly #owner = `deliverer-${randomUUID()}`;
  readonly #job: PeriodicJob;
  /** Destinations this replica delivers now, by state document id. */
  readonly #running = new Map<string, Promise<void>>();
  #stop = new AbortController();

  constructor(deps: DelivererDeps) {
    this.#deps = deps;
    this.#job = new PeriodicJob({
      name: "delivery",
      intervalMs: deps.settings.pollIntervalMs,
      run: () => this.#scan(),
      log: deps.log,
    });
  }

  start(): void {
    this.#stop = new AbortController();
    this.#job.start();
  }

  /** Stops every destination's loop (a batch in flight is abandoned, to be re-sent) and gives up the leases. */
  async stop(): Promise<void> {
    await this.#job.stop();
    this.#stop.abort();
    await Promise.allSettled(this.#running.values());
  }

  #now(): Date {
    return this.#deps.now?.() ?? new Date();
  }

  /** Takes up every active destination no replica holds. */
  async #scan(): Promise<void> {
    const res = await this.#deps.client.search({
      index: DESTINATIONS_INDEX,
      body: allDestinations(10_000) as never,
    });
    const hits = (
      res.body as { hits: { hits: { _source: Pick<DestinationDoc, "scaivault" | "destination_id"> }[] } }
    ).hits.hits;
    for (const { _source: d } of hits) {
      const key = `${d.scaivault.tenant}:${d.destination_id}`;
      if (this.#running.has(key) || this.#stop.signal.aborted) continue;
      const run = this.#deliver(d.scaivault.tenant, d.destination_id)
        .catch((err) =>
          this.#deps.log.error(
            { err: (err as Error).message, tenant: d.scaivault.tenant, destination: d.destination_id },
            "delivery: a destination's loop failed; the next scan takes it up again",
          ),
        )
        .finally(() => this.#running.delete(key));
      this.#running.set(key, run);
    }
  }

  /** The lease, from now for leaseMs. */
  #lease(): StateDoc["lease"] {
    return {
      owner: this.#owner,
      expires_at: isoMicros(new Date(this.#now().getTime() + this.#deps.settings.leaseMs)),
    };
  }

  /** Takes the destination's lease when it is free, expired or ours; undefined when another replica holds it. */
  async #claim(tenant: string, id: string): Promise<Versioned<StateDoc> | undefined> {
    const state = await loadState(this.#deps.client, tenant, id);
    if (!state) return undefined;
    const held = state.doc.lease;
    if (held.owner && held.owner !== this.#owner && (held.expires_at ?? "") > isoMicros(this.#now()))
      return undefined;
    return writeState(this.#deps.client, state, { ...state.doc, lease: this.#lease() });
  }

  async #deliver(tenant: string, id: string): Promise<void> {
    const { client, settings, metrics, log } = this.#deps;
    const signal = this.#stop.signal;
    let state = await this.#claim(tenant, id);
    if (!state) return;
    let receiver: { doc: DestinationDoc; open: Receiver } | undefined;
    let attempt = 0;
    const labels = { destination: id };
    try {
      while (!signal.aborted) {
        const dest = await loadDestination(client, tenant, id);
        if (!dest || dest.doc.paused) return;
        // A changed destination (config, secret, format) is opened again.
        if (receiver && receiver.doc.updated_at !== dest.doc.updated_at) {
          await receiver.open.close();
          receiver = undefined;
        }
        const now = this.#now();
        const scope = await tenantScope(client, tenant, now);
        const filters = resolve(dest.doc.filters, now).filters;
        const batch = await readBatch(this.#deps.store, scope, filters, state.doc, dest.doc.batch.max_events);
        const first = batch.events[0];

        if (!first) {
          // Nothing to send: store how far the reading got (passed-over operations, skipped events)
          // when that moved, and renew the lease before it runs out.
          const moved =
            JSON.stringify(batch.next) !== JSON.stringify(state.doc.position) || batch.skipped > 0;
          const renew =
            (state.doc.lease.expires_at ?? "") < isoMicros(new Date(now.getTime() + settings.leaseMs / 2));
          if (moved || renew) {
            state = await this.#save(state, {
              position: batch.next,
              skipped_by_retention: state.doc.skipped_by_retention + batch.skipped,
            });
            if (!state) return;
          }
          await sleep(settings.pollIntervalMs, signal);
          continue;
        }

        // A batch that is not full waits up to linger_ms (from its first event's storing) for more.
        const age = now.getTime() - Date.parse(first.ingested ?? "");
        if (batch.events.length < dest.doc.batch.max_events && age < dest.doc.batch.linger_ms) {
          await sleep(Math.min(dest.doc.batch.linger_ms - age, dest.doc.batch.linger_ms), signal);
          continue;
        }

        const sentFrom = state.doc;
        const { held, outcome } = await this.#holding(state, async () => {
          receiver ??= { doc: dest.doc, open: await this.#open(dest.doc) };
          await receiver.open.send(
            batch.events.map((doc) => outgoing(doc, dest.doc.format, tenant)),
            signal,
          );
        });
        // Lost meanwhile (another replica took over, or the destination was deleted).
        if (!held) return;
        state = held;
        if (outcome.status === "rejected") {
          if (signal.aborted) return;
          const err = outcome.reason as Error;
          const message =
            err instanceof DestinationError
              ? err.message
              : "the destination failed unexpectedly (see the service log)";
          if (!(err instanceof DestinationError))
            log.error({ err: err.message, tenant, destination: id }, "delivery: unexpected failure");
          await receiver?.open.close().catch(() => {});
          receiver = undefined;
          const at = isoMicros(this.#now());
          const failingSince = state.doc.failing_since ?? at;
          state = await this.#save(state, {
            failed: state.doc.failed + 1,
            last_error: { at, message },
            failing_since: failingSince,
          });
          metrics?.failures.inc(labels);
          metrics?.failing.set(
            labels,
            Date.parse(at) - Date.parse(failingSince) >= settings.failingAfterMs ? 1 : 0,
          );
          if (!state) return;
          await sleep(backoff(attempt++, settings.maxBackoffMs), signal);
          continue;
        }
        attempt = 0;
        // Moved through the API while the batch was on its way (a replay): carry on from there.
        if (!samePlace(sentFrom, state.doc)) continue;
        const acked = this.#now();
        state = await this.#save(state, {
          position: batch.next,
          replay: state.doc.replay && !reached(batch.next, state.doc.replay.until) ? state.doc.replay : null,
          delivered: state.doc.delivered + batch.events.length,
          skipped_by_retention: state.doc.skipped_by_retention + batch.skipped,
          last_success_at: isoMicros(acked),
          failing_since: null,
        });
        metrics?.delivered.inc(labels, batch.events.length);
        metrics?.failing.set(labels, 0);
        if (first.ingested) metrics?.lag.set(labels, (acked.getTime() - Date.parse(first.ingested)) / 1000);
        if (!state) return;
      }
    } finally {
      await receiver?.open.close().catch(() => {});
      await this.#release(tenant, id);
    }
  }

  /**
   * Runs `work` (sending a batch, which a slow receiver may make longer than the lease) while
   * renewing the lease every third of it; the state as last written, or undefined when it was lost.
   */
  async #holding(
    state: Versioned<StateDoc>,
    work: () => Promise<void>,
  ): Promise<{ held: Versioned<StateDoc> | undefined; outcome: PromiseSettledResult<void> }> {
    let held: Versioned<StateDoc> | undefined = state;
    let renewal = Promise.resolve();
    const keep = setInterval(() => {
      renewal = renewal.then(async () => {
        if (held) held = await this.#save(held, {}).catch(() => held);
      });
    }, this.#deps.settings.leaseMs / 3);
    const [outcome] = await Promise.allSettled([work()]);
    clearInterval(keep);
    await renewal;
    return { held, outcome: outcome as PromiseSettledResult<void> };
  }

  /** The destination's receiver, with its credentials resolved now (a rotated secret is picked up on reopening). */
  async #open(d: DestinationDoc): Promise<Receiver> {
    const secret = await this.#deps.secrets.resolve(d.scaivault.tenant, d.credentials_secret);
    return openReceiver(d.type, d.config, secret, this.#deps.allowlist, {
      tenant: d.scaivault.tenant,
      destinationId: d.destination_id,
      timeoutMs: this.#deps.settings.sendTimeoutMs,
    });
  }

  /**
   * Writes the state over the version this loop holds, lease renewed. On a conflict (a replay or a
   * resume through the API) it rereads: still ours, the loop goes on from what was written
   * (dropping its own change); another replica's, or deleted, and the loop ends (undefined).
   */
  async #save(
    state: Versioned<StateDoc>,
    change: Partial<StateDoc>,
  ): Promise<Versioned<StateDoc> | undefined> {
    const doc: StateDoc = {
      ...state.doc,
      ...change,
      lease: this.#lease(),
      updated_at: isoMicros(this.#now()),
    };
    const written = await writeState(this.#deps.client, state, doc);
    if (written) return written;
    const again = await loadState(this.#deps.client, doc.scaivault.tenant, doc.destination_id);
    if (!again || again.doc.lease.owner !== this.#owner) return undefined;
    return again;
  }

  /** Gives the lease up, so another replica (or this one's next scan) takes over at once. */
  async #release(tenant: string, id: string): Promise<void> {
    try {
      const state = await loadState(this.#deps.client, tenant, id);
      if (state?.doc.lease.owner === this.#owner)
        await writeState(this.#deps.client, state, {
          ...state.doc,
          lease: { owner: null, expires_at: null },
        });
    } catch {
      // The lease runs out by itself.
    }
  }
}

/** Whether nobody moved the destination's position (a replay) since `a` was read. */
const samePlace = (a: StateDoc, b: StateDoc) =>
  JSON.stringify([a.position, a.replay]) === JSON.stringify([b.position, b.replay]);

/** Full jitter: a random wait up to 1 s × 2^attempt, at most `max` (many destinations never retry in step). */
const backoff = (attempt: number, max: number) =>
  Math.random() * Math.min(max, 1000 * 2 ** Math.min(attempt, 30));

const sleep = (ms: number, signal: AbortSignal) => wait(ms, undefined, { signal }).catch(() => {});
