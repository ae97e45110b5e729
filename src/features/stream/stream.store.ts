/**
 * @module features/stream/store
 * Whether a client's position is one this store has reached (reading in store order:
 * opensearch/progress).
 */

import { invalidField } from "../../errors.ts";
import type { Position } from "../../opensearch/position.ts";
import { type Store, storeProgress } from "../../opensearch/progress.ts";

export type { Store };

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
