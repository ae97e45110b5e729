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
import { invalidField, LimitReached, Unavailable } from "../../errors.ts";
import { fromDocument, peekDocument, readDocument } from "../../events/event.mapping.ts";
import { eventFilter } from "../../filters/filters.match.ts";
import type { Filters } from "../../filters/filters.ts";
import type { Logger } from "../../logger.ts";
import { AUDIT_STREAM } from "../../opensearch/names.ts";
import { inScope, type Tenant } from "../../tenancy/tenant-scope.ts";
import { advance, isAfter, later, type Position, reached } from "./stream.position.ts";
import { catchUpSearch, changesSearch, type SeqRange } from "./stream.query.ts";
import {
  type BackingIndex,
  readRange,
  refresh,
  type Store,
  type StoredHit,
  storeProgress,
} from "./stream.store.ts";
import { type EndReason, Subscriber } from "./stream.subscriber.ts";

export interface StreamSettings {
  pollIntervalMs: number;
  heartbeatMs: number;
  maxPerTenant: number;
  maxTotal: number;
  clientBufferBytes: number;
  pageSize: number;
  /** How long a client gets to read the final message before the connection is cut. */
  closeGraceMs: number;
}

export interface StreamMetrics {
  subscribers: { set(n: number): void };
  sent: { inc(n?: number): void };
  ended: { inc(labels: { reason: string }): void };
  /** Seconds from an event's ingest stamp to the feed reading it. */
  lag: { observe(seconds: number): void };
}

const RETRY_MS = 2000;
const MAX_DELAY_MS = 2 ** 31 - 1;
const FAILURE_BACKOFF_MS = 2000;

export class StreamHub {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #settings: StreamSettings;
  readonly #metrics: StreamMetrics | undefined;
  /** Subscribers on the feed, by tenant. */
  readonly #attached = new Map<string, Set<Subscriber>>();
  readonly #all = new Set<Subscriber>();
  /** Streams per tenant, counted from the moment one is accepted (before its first await). */
  readonly #perTenant = new Map<string, number>();
  #count = 0;
  /** Every matching event before this position has been handed to the attached subscribers. */
  #head: Position | undefined;
  /** The tenants the read in flight asks for, and when it is done. */
  #inFlight: { tenants: ReadonlySet<string>; done: Promise<void> } | undefined;
  #polling = false;
  #starting: Promise<Position> | undefined;
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
  }

  /**
   * Registers a client. Without a position it starts at the feed's current position (events
   * stored from now on); with one it first catches up. 429 beyond the limits, 400 for a position
   * the store has not reached, 503 while closing. The stream ends at `until` (the token's expiry).
   */
  async subscribe(req: {
    tenant: Tenant;
    filters: Filters;
    from?: Position;
    until?: number;
  }): Promise<Subscriber> {
    if (this.#closing) throw new Unavailable("the server is shutting down", 1);
    const tenant = req.tenant.id;
    const { maxPerTenant, maxTotal } = this.#settings;
    const mine = this.#perTenant.get(tenant) ?? 0;
    if (mine >= maxPerTenant || this.#count >= maxTotal) {
      throw new LimitReached(
        mine >= maxPerTenant
          ? `this tenant already has ${mine} live streams on this replica (at most ${maxPerTenant})`
          : `this replica serves its maximum of ${maxTotal} live streams`,
        30,
      );
    }
    this.#perTenant.set(tenant, mine + 1);
    this.#count++;
    let head: Position;
    try {
      if (req.from) await this.#checkReachable(req.from);
      head = await this.#feedPosition();
      // close() may have run meanwhile; it would not know this stream.
      if (this.#closing) throw new Unavailable("the server is shutting down", 1);
    } catch (err) {
      this.#release(tenant);
      throw err;
    }
    const sub: Subscriber = new Subscriber({
      tenant: req.tenant,
      accepts: eventFilter(req.filters),
      pos: req.from ?? head,
      bufferBytes: this.#settings.clientBufferBytes,
      retryMs: RETRY_MS,
      onGone: () => this.#remove(sub),
    });
    this.#all.add(sub);
    this.#metrics?.subscribers.set(this.#all.size);
    if (req.until !== undefined) {
      const until = req.until;
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
    void this.#catchUp(sub, req.filters);
    if (!this.#polling) {
      this.#polling = true;
      void this.#poll();
    }
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

  #end(sub: Subscriber, reason: EndReason): void {
    if (sub.gone) return;
    this.#metrics?.ended.inc({ reason });
    sub.end(reason, { dropQueued: reason === "slow_client", graceMs: this.#settings.closeGraceMs });
  }

  #remove(sub: Subscriber): void {
    if (!this.#all.delete(sub)) return;
    const set = this.#attached.get(sub.tenant.id);
    set?.delete(sub);
    if (set?.size === 0) this.#attached.delete(sub.tenant.id);
    this.#release(sub.tenant.id);
    this.#metrics?.subscribers.set(this.#all.size);
  }

  #release(tenant: string): void {
    const n = (this.#perTenant.get(tenant) ?? 1) - 1;
    if (n > 0) this.#perTenant.set(tenant, n);
    else this.#perTenant.delete(tenant);
    this.#count--;
  }

  /** A position must lie within what the store holds: a made-up one would wait forever. */
  async #checkReachable(p: Position): Promise<void> {
    // Its index and the next, or every index when neither exists: the last is at least as new as p's.
    const indices = await storeProgress(this.#store, p.gen);
    const write = indices.at(-1);
    const at = indices.find((i) => i.gen === p.gen);
    const beyond =
      !write ||
      p.gen > write.gen ||
      (at !== undefined &&
        (p.seq.length !== at.shards.length || p.seq.some((s, i) => s > (at.shards[i]?.max ?? -1) + 1)));
    if (beyond)
      throw invalidField(
        "Last-Event-ID",
        "names a position this audit store has not reached",
        "Last-Event-ID is not a position of this audit store",
      );
  }

  /**
   * The feed's position; when it is not polling (nobody was subscribed), first set to what the
   * store holds now, so a new client gets events from now on rather than a backlog.
   */
  #feedPosition(): Promise<Position> {
    if (this.#polling && this.#head) return Promise.resolve(this.#head);
    this.#starting ??= (async () => {
      const write = (await storeProgress(this.#store)).at(-1);
      if (!write) throw new Unavailable("the audit store is not ready", 5);
      this.#head = { gen: write.gen, seq: write.shards.map((s) => s.checkpoint + 1) };
      this.#heartbeat ??= setInterval(() => {
        for (const sub of this.#all) sub.heartbeat();
      }, this.#settings.heartbeatMs).unref();
      return this.#head;
    })().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  /** Polls while anyone is subscribed; a new subscriber starts it again. */
  async #poll(): Promise<void> {
    while (this.#all.size > 0 && !this.#closing) {
      let finish = () => {};
      // Only the subscribed tenants' events are read; a tenant that subscribes meanwhile waits for
      // this read to end before it joins (see #catchUp).
      this.#inFlight = { tenants: new Set(this.#perTenant.keys()), done: new Promise((r) => (finish = r)) };
      let pause = this.#settings.pollIntervalMs;
      try {
        await this.#tick(this.#inFlight.tenants);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, "live tail: reading new events failed; retrying");
        pause = FAILURE_BACKOFF_MS;
      } finally {
        this.#inFlight = undefined;
        finish();
      }
      await sleep(pause);
    }
    this.#polling = false;
  }

  /** One look at the store: everything final since the head, index by index, shard by shard. */
  async #tick(tenants: ReadonlySet<string>): Promise<void> {
    const indices = await storeProgress(this.#store, this.#head?.gen);
    for (const index of indices) {
      const head = this.#head;
      if (!head || index.gen < head.gen) continue;
      if (index.gen > head.gen) this.#moveHead({ gen: index.gen, seq: index.shards.map(() => 0) });
      await this.#readIndex(index, [...tenants]);
      // Move on to a newer index only once this one is complete (no longer written to, all read).
      const pos = this.#head as Position;
      const complete =
        index !== indices.at(-1) &&
        index.shards.every((s, i) => s.max === s.checkpoint && (pos.seq[i] ?? 0) > s.max);
      if (!complete) return;
    }
  }

  async #readIndex(index: BackingIndex, tenants: string[]): Promise<void> {
    const due = index.shards.flatMap((s, shard) => {
      const from = (this.#head as Position).seq[shard] ?? 0;
      return s.checkpoint >= from ? [{ shard, range: { from, to: s.checkpoint } }] : [];
    });
    if (due.length === 0) return;
    await refresh(this.#store.client, index.name);
    const { pageSize } = this.#settings;
    for (const { shard, range } of due) {
      for await (const hits of readRange(
        this.#store.client,
        index.name,
        shard,
        range,
        (r) => changesSearch(tenants, r, pageSize),
        pageSize,
      )) {
        this.#dispatch(index.gen, shard, hits);
      }
      // Sequence numbers without a document for us (another tenant's, a deleted one) are passed too.
      this.#moveHead(advance(this.#head as Position, index.gen, shard, range.to));
    }
  }

  /** Hands a page to the attached subscribers, then moves the head past it — in one synchronous step. */
  #dispatch(gen: number, shard: number, hits: StoredHit[]): void {
    let pos = this.#head as Position;
    const now = Date.now();
    for (const hit of hits) {
      // Read tolerantly: whatever one document holds, the feed (every tenant's) goes on.
      const peek = peekDocument(hit._source);
      pos = advance(pos, gen, shard, hit._seq_no);
      const ingested = peek.ingested === null ? Number.NaN : Date.parse(peek.ingested);
      if (Number.isFinite(ingested)) this.#metrics?.lag.observe((now - ingested) / 1000);
      const subs = peek.tenant === null ? undefined : this.#attached.get(peek.tenant);
      if (!subs) continue;
      const doc = readDocument(hit._source);
      const event = doc.event;
      let data: string | undefined;
      for (const sub of subs) {
        if (sub.gone || !isAfter(gen, shard, hit._seq_no, sub.pos) || !inScope(sub.tenant, doc)) continue;
        if (!sub.accepts(event)) continue;
        data ??= JSON.stringify(event);
        if (sub.event(later(sub.pos, pos), data)) this.#metrics?.sent.inc();
        else this.#end(sub, "slow_client");
      }
    }
    this.#moveHead(pos);
  }

  #moveHead(pos: Position): void {
    this.#head = pos;
    for (const subs of this.#attached.values()) for (const sub of subs) sub.pos = later(sub.pos, pos);
  }

  /**
   * Brings a client up to the feed with its own filtered reads, then attaches it — in the same
   * synchronous step as the check, and only when the feed's read in flight (if any) asks for its
   * tenant, so no event falls between the two. Reads wait for room in the client's buffer, so a
   * long catch-up never overflows it.
   */
  async #catchUp(sub: Subscriber, filters: Filters): Promise<void> {
    const { pageSize, pollIntervalMs } = this.#settings;
    try {
      for (;;) {
        if (sub.gone) return;
        const head = this.#head as Position;
        if (reached(sub.pos, head)) {
          const inFlight = this.#inFlight;
          if (!inFlight || inFlight.tenants.has(sub.tenant.id)) return this.#attach(sub);
          await inFlight.done;
          continue;
        }
        const indices = await storeProgress(this.#store, sub.pos.gen);
        // The client's index, or the next one if retention deleted it.
        const index = indices.find((i) => i.gen >= sub.pos.gen && i.gen <= head.gen);
        if (!index) {
          sub.pos = later(sub.pos, head);
          continue;
        }
        if (index.gen > sub.pos.gen) sub.pos = { gen: index.gen, seq: index.shards.map(() => 0) };
        // Up to the feed's position in its index; an older index only as far as is final.
        const upTo =
          index.gen === head.gen ? head.seq.map((s) => s - 1) : index.shards.map((s) => s.checkpoint);
        await refresh(this.#store.client, index.name);
        for (const [shard, to] of upTo.entries()) {
          const from = sub.pos.seq[shard] ?? 0;
          if (from > to) continue;
          const build = (r: SeqRange) => catchUpSearch(sub.tenant, filters, r, pageSize);
          for await (const hits of readRange(
            this.#store.client,
            index.name,
            shard,
            { from, to },
            build,
            pageSize,
          )) {
            for (const hit of hits) {
              await sub.room();
              if (sub.gone) return;
              const data = JSON.stringify(fromDocument(hit._source));
              if (!sub.event(advance(sub.pos, index.gen, shard, hit._seq_no), data))
                return this.#end(sub, "slow_client");
              this.#metrics?.sent.inc();
            }
          }
          sub.pos = advance(sub.pos, index.gen, shard, to);
        }
        if (index.gen < head.gen) {
          const complete = index.shards.every(
            (s, i) => s.max === s.checkpoint && (sub.pos.seq[i] ?? 0) > s.max,
          );
          const next = indices.find((i) => i.gen > index.gen);
          if (complete)
            sub.pos = next
              ? { gen: next.gen, seq: next.shards.map(() => 0) }
              : { gen: index.gen + 1, seq: [] };
          // Writes still in flight to an index that was just rolled over: look again shortly.
          else await sleep(pollIntervalMs);
        }
        sub.checkpoint();
      }
    } catch (err) {
      this.#log.warn(
        { err: (err as Error).message },
        "live tail: a catch-up read failed; ending that stream",
      );
      this.#end(sub, "unavailable");
    }
  }

  #attach(sub: Subscriber): void {
    const set = this.#attached.get(sub.tenant.id) ?? new Set();
    this.#attached.set(sub.tenant.id, set.add(sub));
    sub.pos = later(sub.pos, this.#head as Position);
    sub.checkpoint();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
