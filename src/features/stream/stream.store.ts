/**
 * @module features/stream/store
 * What the live tail reads from OpenSearch: one shard's operations in a range, and whether a
 * client's position is one this store has reached (progress itself: opensearch/progress).
 */
import type { Client } from "@opensearch-project/opensearch";
import { invalidField } from "../../errors.ts";
import { storeProgress } from "../../opensearch/progress.ts";
import type { Clause } from "../../tenancy/tenant-scope.ts";
import type { Position } from "./stream.position.ts";
import type { SeqRange } from "./stream.query.ts";

export interface StoredHit {
  _seq_no: number;
  _source: unknown;
}

/** The data stream the live tail reads: the audit events (tests also use one with two shards). */
export interface Store {
  client: Client;
  stream: string;
}

/** One page of one shard's operations, in store order. */
async function readShard(client: Client, index: string, shard: number, body: Clause): Promise<StoredHit[]> {
  const res = await client.search({
    index,
    preference: `_shards:${shard}`,
    body: body as never,
    filter_path: ["hits.hits._seq_no", "hits.hits._source"],
  });
  return ((res.body as { hits?: { hits?: StoredHit[] } }).hits?.hits ?? []) as StoredHit[];
}

/** Pages through one shard's operations in `range`, oldest first. */
export async function* readRange(
  client: Client,
  index: string,
  shard: number,
  range: SeqRange,
  build: (range: SeqRange) => Clause,
  pageSize: number,
): AsyncGenerator<StoredHit[]> {
  for (let from = range.from; from <= range.to; ) {
    const hits = await readShard(client, index, shard, build({ from, to: range.to }));
    if (hits.length > 0) yield hits;
    if (hits.length < pageSize) return;
    from = (hits.at(-1) as StoredHit)._seq_no + 1;
  }
}

/** A position must lie within what the store holds: a made-up one would wait forever (400). */
export async function assertReachable(store: Store, p: Position): Promise<void> {
  // Its index and the next, or every index when neither exists: the last is at least as new as p's.
  const indices = await storeProgress(store, p.gen);
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
