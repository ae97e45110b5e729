/**
 * @module opensearch/position
 * Where a reader following the store is (a live-tail client, a delivery destination), in the
 * order OpenSearch stored the events: the data stream's backing index (its generation) and, per
 * shard of that index, how many operations have been read (last `_seq_no` + 1). Pure.
 *
 * Why sequence numbers and not `event.ingested`: the ingest stamp is taken before the write, and a
 * bulk stamped earlier can become searchable after one stamped later, so a reader that advanced
 * past a stamp could never see the earlier bulk. A shard's sequence numbers up to its global
 * checkpoint are final, and a refresh after reading the checkpoint makes all of them searchable:
 * reading (last, checkpoint] in order never skips an event and never returns one twice.
 */
import type { Position } from "./progress.ts";

export type { Position };

/** The text form, as sent in SSE `id:` fields: `3-41523` (generation, then one number per shard). */
export function formatPosition(p: Position): string {
  return [p.gen, ...p.seq].join("-");
}

const POSITION = /^\d{1,9}(?:-\d{1,15}){1,64}$/;

export function parsePosition(text: string): Position | undefined {
  if (!POSITION.test(text)) return undefined;
  const [gen, ...seq] = text.split("-").map(Number) as [number, ...number[]];
  if (gen < 1 || !seq.every(Number.isSafeInteger)) return undefined;
  return { gen, seq };
}

/** Whether the operation `seqNo` on `shard` of generation `gen` lies beyond `p`. */
export function isAfter(gen: number, shard: number, seqNo: number, p: Position): boolean {
  return gen > p.gen || (gen === p.gen && seqNo >= (p.seq[shard] ?? 0));
}

/** The position just past operation `seqNo` on `shard` of generation `gen`. */
export function advance(p: Position, gen: number, shard: number, seqNo: number): Position {
  const seq = gen === p.gen ? [...p.seq] : [];
  seq[shard] = Math.max(seq[shard] ?? 0, seqNo + 1);
  return { gen, seq: Array.from(seq, (s) => s ?? 0) };
}

/** The later of two positions, shard by shard within one generation. */
export function later(a: Position, b: Position): Position {
  if (a.gen !== b.gen) return a.gen > b.gen ? a : b;
  const n = Math.max(a.seq.length, b.seq.length);
  return { gen: a.gen, seq: Array.from({ length: n }, (_, i) => Math.max(a.seq[i] ?? 0, b.seq[i] ?? 0)) };
}

/** Whether `a` is at or beyond `b` on every shard. */
export function reached(a: Position, b: Position): boolean {
  if (a.gen !== b.gen) return a.gen > b.gen;
  return b.seq.every((s, i) => (a.seq[i] ?? 0) >= s);
}
