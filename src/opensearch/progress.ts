/**
 * @module opensearch/progress
 * How far a data stream's backing indices have got, in the order OpenSearch stored the events:
 * each shard's sequence-number checkpoint. Read by whatever follows the store in that order (the
 * live tail, delivery, the summaries' rollup), so it never skips an operation nor reads one twice.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { Clause } from "../tenancy/tenant-scope.ts";

/** A place in store order: everything before it has been read. */
export interface Position {
  /** Generation of the backing index (`.ds-audit-events-000003` → 3). */
  gen: number;
  /** Per shard: operations read so far, i.e. the next `_seq_no` to read. */
  seq: number[];
}

/** The generation of a backing index from its name (`.ds-audit-events-000003` → 3). */
export function generationOf(index: string): number {
  const m = /-(\d+)$/.exec(index);
  if (!m) throw new Error(`not a data stream backing index: ${index}`);
  return Number(m[1]);
}

export interface ShardProgress {
  /** Every operation up to here is done on every in-sync copy (the global checkpoint). */
  checkpoint: number;
  /** The highest sequence number assigned so far. */
  max: number;
}

export interface BackingIndex {
  name: string;
  gen: number;
  shards: ShardProgress[];
}

type ShardStats = {
  routing: { primary: boolean };
  seq_no: { max_seq_no: number; global_checkpoint: number };
};

/** A backing index's name: rollover always adds one to the generation. */
export const backingIndex = (stream: string, gen: number) => `.ds-${stream}-${String(gen).padStart(6, "0")}`;

/**
 * Backing indices, oldest first, with each shard's progress. From a generation on, only that one
 * and the next are asked for (years of daily indices would make every poll heavy): the last one
 * returned is then the write index unless a newer one exists, which the next look finds. Without a
 * generation, or when neither exists any more (retention), every backing index is listed; the last
 * one is then the write index.
 */
export async function storeProgress(
  store: { client: Client; stream: string },
  fromGen?: number,
): Promise<BackingIndex[]> {
  if (fromGen !== undefined) {
    const near = await progressOf(store.client, [
      backingIndex(store.stream, fromGen),
      backingIndex(store.stream, fromGen + 1),
    ]);
    if (near.length > 0) return near;
  }
  return progressOf(store.client, [store.stream]);
}

async function progressOf(client: Client, index: string[]): Promise<BackingIndex[]> {
  const res = await client.indices.stats(
    {
      index,
      // Sequence numbers come with any metric; `docs` is the cheapest to gather.
      metric: "docs",
      level: "shards",
      filter_path: ["indices.*.shards.*.routing.primary", "indices.*.shards.*.seq_no"],
    },
    // Accepted by the REST API, missing from the client's request type.
    { querystring: { ignore_unavailable: true } },
  );
  const indices = (res.body as { indices?: Record<string, { shards: Record<string, ShardStats[]> }> })
    .indices;
  return Object.entries(indices ?? {})
    .map(([name, { shards }]) => {
      const count = Object.keys(shards).length;
      return {
        name,
        gen: generationOf(name),
        shards: Array.from({ length: count }, (_, i) => {
          const primary = shards[String(i)]?.find((copy) => copy.routing.primary);
          // A shard without a started primary has nothing final to offer yet.
          return primary
            ? { checkpoint: primary.seq_no.global_checkpoint, max: primary.seq_no.max_seq_no }
            : { checkpoint: -1, max: -1 };
        }),
      };
    })
    .sort((a, b) => a.gen - b.gen);
}

/** Makes every operation done so far searchable (they are, at the latest, after refresh_interval). */
export async function refresh(client: Client, index: string): Promise<void> {
  await client.indices.refresh({ index });
}

/**
 * How far a reader following the store can go from `from`: through each complete index (no longer
 * written to, every operation final) to the first incomplete one's checkpoints, or the newest's.
 */
export function reachable(indices: BackingIndex[], from: Position | null): Position | null {
  const after = indices.filter((i) => !from || i.gen >= from.gen);
  for (const index of after) {
    const complete = index !== indices.at(-1) && index.shards.every((s) => s.max === s.checkpoint);
    if (!complete) return { gen: index.gen, seq: index.shards.map((s) => s.checkpoint + 1) };
  }
  return from;
}

/** Sequence numbers `from` to `to`, both included. */
export interface SeqRange {
  from: number;
  to: number;
}

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
