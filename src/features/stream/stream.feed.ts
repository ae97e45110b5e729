/**
 * @module features/stream/feed
 * The one feed of a replica's live tail. While anyone is subscribed it polls the store every
 * STREAM_POLL_INTERVAL_MS: one stats request for the shards' checkpoints and, when they moved, a
 * refresh and one search per shard for the new events of the tenants subscribed here — the same
 * requests for 1 or 1,000 subscribers — and hands each event to the attached subscribers of its
 * tenant whose filters it matches, then moves its head past it in the same synchronous step.
 */
import type { StreamSettings } from "../../config.ts";
import { Unavailable } from "../../errors.ts";
import { peekDocument, readDocument } from "../../events/event.mapping.ts";
import type { StreamMetrics } from "../../http/metrics.ts";
import type { Logger } from "../../logger.ts";
import { advance, isAfter, later, type Position } from "../../opensearch/position.ts";
import {
  type BackingIndex,
  readRange,
  refresh,
  type Store,
  type StoredHit,
  storeProgress,
} from "../../opensearch/progress.ts";
import { inScope } from "../../tenancy/tenant-scope.ts";
import { changesSearch } from "./stream.query.ts";
import { type EndReason, render, type StreamFormat, type Subscriber } from "./stream.subscriber.ts";

const FAILURE_BACKOFF_MS = 2000;

export class Feed {
  readonly #store: Store;
  readonly #settings: Pick<StreamSettings, "pollIntervalMs" | "pageSize">;
  readonly #log: Logger;
  readonly #metrics: Pick<StreamMetrics, "lag" | "sent"> | undefined;
  /** Whether the feed should keep polling (someone is subscribed, and the hub is not closing). */
  readonly #active: () => boolean;
  /** The tenants with a stream on this replica: what each read asks for. */
  readonly #tenants: () => Set<string>;
  readonly #end: (sub: Subscriber, reason: EndReason) => void;
  /** Subscribers on the feed, by tenant. */
  readonly #attached = new Map<string, Set<Subscriber>>();
  /** Every matching event before this position has been handed to the attached subscribers. */
  #head: Position | undefined;
  /** The tenants the read in flight asks for, and when it is done. */
  #inFlight: { tenants: ReadonlySet<string>; done: Promise<void> } | undefined;
  #polling = false;
  #starting: Promise<Position> | undefined;

  constructor(deps: {
    store: Store;
    settings: Pick<StreamSettings, "pollIntervalMs" | "pageSize">;
    log: Logger;
    metrics?: Pick<StreamMetrics, "lag" | "sent">;
    active: () => boolean;
    tenants: () => Set<string>;
    end: (sub: Subscriber, reason: EndReason) => void;
  }) {
    this.#store = deps.store;
    this.#settings = deps.settings;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#active = deps.active;
    this.#tenants = deps.tenants;
    this.#end = deps.end;
  }

  get head(): Position | undefined {
    return this.#head;
  }

  get inFlight(): { tenants: ReadonlySet<string>; done: Promise<void> } | undefined {
    return this.#inFlight;
  }

  /**
   * The feed's position; when it is not polling (nobody was subscribed), first set to what the
   * store holds now, so a new client gets events from now on rather than a backlog.
   */
  position(): Promise<Position> {
    if (this.#polling && this.#head) return Promise.resolve(this.#head);
    this.#starting ??= (async () => {
      const write = (await storeProgress(this.#store)).at(-1);
      if (!write) throw new Unavailable("the audit store is not ready", 5);
      this.#head = { gen: write.gen, seq: write.shards.map((s) => s.checkpoint + 1) };
      return this.#head;
    })().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  /** Starts polling unless it already does; it stops by itself once nobody is subscribed. */
  start(): void {
    if (this.#polling) return;
    this.#polling = true;
    void this.#poll();
  }

  /** Puts a caught-up subscriber on the feed, at the feed's position. */
  attach(sub: Subscriber): void {
    const set = this.#attached.get(sub.tenant.id) ?? new Set();
    this.#attached.set(sub.tenant.id, set.add(sub));
    sub.pos = later(sub.pos, this.#head as Position);
    sub.checkpoint();
  }

  detach(sub: Subscriber): void {
    const set = this.#attached.get(sub.tenant.id);
    set?.delete(sub);
    if (set?.size === 0) this.#attached.delete(sub.tenant.id);
  }

  /** Polls while anyone is subscribed; a new subscriber starts it again. */
  async #poll(): Promise<void> {
    while (this.#active()) {
      let finish = () => {};
      // Only the subscribed tenants' events are read; a tenant that subscribes meanwhile waits for
      // this read to end before it joins (see #catchUp).
      this.#inFlight = { tenants: this.#tenants(), done: new Promise((r) => (finish = r)) };
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
      // Rendered once per format, whatever the number of subscribers.
      const data = new Map<StreamFormat, string>();
      for (const sub of subs) {
        if (sub.gone || !isAfter(gen, shard, hit._seq_no, sub.pos) || !inScope(sub.tenant, doc)) continue;
        if (!sub.accepts(event)) continue;
        const text = data.get(sub.format) ?? render(sub.format, doc, sub.tenant.id);
        data.set(sub.format, text);
        if (sub.event(later(sub.pos, pos), text)) this.#metrics?.sent.inc();
        else this.#end(sub, "slow_client");
      }
    }
    this.#moveHead(pos);
  }

  #moveHead(pos: Position): void {
    this.#head = pos;
    for (const subs of this.#attached.values()) for (const sub of subs) sub.pos = later(sub.pos, pos);
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
