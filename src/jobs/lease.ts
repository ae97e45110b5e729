/**
 * @module jobs/lease
 * A lease on a document: who holds a piece of cluster-wide work, and until when. Taken with a
 * conditional write on seq_no/primary_term, so of several replicas at most one gets it; a lease
 * that ran out (its holder died) may be taken by anyone.
 */
import type { Client } from "@opensearch-project/opensearch";
import { isoMicros } from "../events/time.ts";
import { statusOf } from "../opensearch/errors.ts";

export interface Lease {
  owner: string;
  expires_at: string;
}

/**
 * Takes the lease at `index`/`id` for `owner` until `until` when it is free, expired or already
 * `owner`'s. False when another holder's lease still runs (or another replica took it first).
 */
export async function takeLease(
  client: Client,
  at: { index: string; id: string },
  owner: string,
  now: Date,
  until: Date,
): Promise<boolean> {
  const lease: Lease = { owner, expires_at: isoMicros(until) };
  try {
    const cur = await client.get({ index: at.index, id: at.id });
    const held = (cur.body._source as { lease?: Lease }).lease;
    if (held && held.owner !== owner && held.expires_at > isoMicros(now)) return false;
    await client.index({
      index: at.index,
      id: at.id,
      if_seq_no: cur.body._seq_no as number,
      if_primary_term: cur.body._primary_term as number,
      body: { lease } as never,
    });
    return true;
  } catch (err) {
    if (statusOf(err) === 409) return false; // another replica took it first
    if (statusOf(err) !== 404) throw err;
    try {
      await client.index({ index: at.index, id: at.id, op_type: "create", body: { lease } as never });
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw e;
    }
  }
}
