/**
 * @module features/delivery/reader
 * What a destination has still to send, read in store order from its position (the live tail's
 * positions: per backing index, per shard, the next `_seq_no`): up to a batch of the tenant's
 * matching events within retention, the ones past retention counted and passed over, and the
 * position just past all of them. Only operations up to each shard's global checkpoint are read,
 * so nothing is skipped and nothing read twice (opensearch/position).
 */
import { readDocument, type StoredEvent } from "../../events/event.mapping.ts";
import type { Filters } from "../../filters/filters.ts";
import { advance, reached } from "../../opensearch/position.ts";
import {
  type Position,
  refresh,
  type Store,
  type StoredHit,
  storeProgress,
} from "../../opensearch/progress.ts";
import { inScope, type Tenant } from "../../tenancy/tenant-scope.ts";
import { lagCount, oldestPending, pendingEvents } from "./delivery.query.ts";

export interface Batch {
  events: StoredEvent[];
  /** Events past the tenant's retention, passed over. */
  skipped: number;
  /** Just past everything read: the position to store once the batch is acknowledged. */
  next: Position;
}

export interface Cursor {
  position: Position;
  replay: { from: string; until: Position } | null;
}

const replayFrom = (c: Cursor, pos: Position) =>
  c.replay && !reached(pos, c.replay.until) ? c.replay.from : null;

/** Up to `max` events from the cursor on, across backing indices as they complete. */
export async function readBatch(
  store: Store,
  tenant: Tenant,
  filters: Filters,
  cursor: Cursor,
  max: number,
): Promise<Batch> {
  const events: StoredEvent[] = [];
  let skipped = 0;
  let pos = cursor.position;
  const indices = await storeProgress(store, pos.gen);
  for (const index of indices) {
    if (index.gen < pos.gen) continue;
    if (index.gen > pos.gen) pos = { gen: index.gen, seq: index.shards.map(() => 0) };
    const due = index.shards.flatMap((s, shard) =>
      s.checkpoint >= (pos.seq[shard] ?? 0) ? [{ shard, from: pos.seq[shard] ?? 0, to: s.checkpoint }] : [],
    );
    if (due.length > 0) await refresh(store.client, index.name);
    for (const { shard, from, to } of due) {
      const room = max - events.length;
      if (room <= 0) break;
      const res = await store.client.search({
        index: index.name,
        preference: `_shards:${shard}`,
        body: pendingEvents(tenant, filters, { from, to }, room, replayFrom(cursor, pos)) as never,
        filter_path: ["hits.hits._seq_no", "hits.hits._source"],
      });
      const hits = ((res.body as { hits?: { hits?: StoredHit[] } }).hits?.hits ?? []) as StoredHit[];
      for (const hit of hits) {
        // Read tolerantly: one odd document never stops a destination.
        const doc = readDocument(hit._source);
        if (inScope(tenant, doc)) events.push(doc);
        else skipped++;
        pos = advance(pos, index.gen, shard, hit._seq_no);
      }
      // The whole range was read: operations of other tenants or not matching are passed too.
      if (hits.length < room) pos = advance(pos, index.gen, shard, to);
    }
    const complete =
      index !== indices.at(-1) &&
      index.shards.every((s, i) => s.max === s.checkpoint && (pos.seq[i] ?? 0) > s.max);
    if (!complete || events.length >= max) break;
  }
  return { events, skipped, next: pos };
}

/** How far behind a destination is: matching events within retention beyond its position, and the oldest one's ingest stamp. */
export async function lagOf(
  store: Store,
  tenant: Tenant,
  filters: Filters,
  cursor: Cursor,
): Promise<{ events: number; oldest: string | null }> {
  let events = 0;
  let oldest: string | null = null;
  const pos = cursor.position;
  for (const index of await storeProgress(store)) {
    if (index.gen < pos.gen) continue;
    for (const [shard, s] of index.shards.entries()) {
      const from = index.gen === pos.gen ? (pos.seq[shard] ?? 0) : 0;
      if (s.max < from) continue;
      const range = { from, to: s.max };
      const at = { index: index.name, preference: `_shards:${shard}` };
      const replay = replayFrom(cursor, index.gen === pos.gen ? pos : { gen: index.gen, seq: [] });
      const [count, first] = await Promise.all([
        store.client.count({ ...at, body: lagCount(tenant, filters, range, replay) as never }),
        store.client.search({ ...at, body: oldestPending(tenant, filters, range, replay) as never }),
      ]);
      events += (count.body as { count: number }).count;
      const hit = (first.body as { hits: { hits: { _source?: { event?: { ingested?: string } } }[] } }).hits
        .hits[0];
      const ingested = hit?._source?.event?.ingested;
      if (ingested && (oldest === null || ingested < oldest)) oldest = ingested;
    }
  }
  return { events, oldest };
}
