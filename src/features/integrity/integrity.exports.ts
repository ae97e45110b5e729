/**
 * @module features/integrity/exports
 * What makes an export provable offline, for the export worker (the composition root hands it
 * over; the export feature only names the shape it needs): each record's leaf index, the newest
 * checkpoint covering them all with one multi-proof for all of them, and a signed note over the
 * manifest's digest. An auditor then needs the verifier key alone (`npm run verify`).
 */

import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@opensearch-project/opensearch";
import { INTEGRITY_INDEX } from "../../opensearch/names.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import { LogDamaged, leafIndexes, readState, storedHashReader } from "./integrity.log.ts";
import { latestCheckpointSearch, type StoredCheckpoint } from "./integrity.query.ts";
import { type Signer, signNote } from "./note.ts";
import { type LeafSet, multiProof, multiRoot, storedHashCount, storedHashIndex } from "./tlog.ts";

/** The signed text over a manifest: its log, then the SHA-256 of its RFC 8785 JSON (signature left out). */
export const manifestText = (log: string, sha256: string): string =>
  `${log}\nexport manifest\nsha256 ${sha256}\n`;

export interface ExportProofs {
  leaves(tenant: string, ids: string[], until: number, signal: AbortSignal): Promise<(number | null)[]>;
  prove(
    tenant: string,
    set: LeafSet,
    until: number,
    signal: AbortSignal,
  ): Promise<{ log: string; checkpoint: { size: number; root_hash: string; note: string }; proof: string[] }>;
  sign(tenant: string, sha256: string): string;
}

type Hits<T> = { hits: { hits: { _source: T }[] } };

/** Poll interval while waiting for the sealer (it runs every INTEGRITY_SEAL_INTERVAL_MS). */
const POLL_MS = 500;

export function exportProofs(client: Client, signer: Signer, origin: string): ExportProofs {
  /** Each id's leaf index in the committed log (null: no leaf yet). */
  async function lookup(tenant: string, ids: string[]): Promise<(number | null)[]> {
    const at = await leafIndexes(client, tenant, ids, (await readState(client, tenant)).size);
    return ids.map((id) => at.get(id) ?? null);
  }

  return {
    /** Leaf indexes, waiting (until `until`, epoch ms) for the sealer to append what it has not yet. */
    async leaves(tenant, ids, until, signal) {
      let found = await lookup(tenant, ids);
      while (found.includes(null) && Date.now() < until) {
        await sleep(POLL_MS, undefined, { signal });
        found = await lookup(tenant, ids);
      }
      return found;
    },

    /** The newest checkpoint (waiting until `until` for one covering every leaf) and the multi-proof. */
    async prove(tenant, set, until, signal) {
      const last = (set.at(-1) as [number, number])[1];
      let cp: StoredCheckpoint | undefined;
      for (;;) {
        const res = (await search(
          client,
          latestCheckpointSearch({ id: tenant, since: null }),
          INTEGRITY_INDEX,
        )) as Hits<{ data: StoredCheckpoint }>;
        cp = res.hits.hits[0]?._source.data;
        if ((cp && cp.size >= last) || Date.now() >= until) break;
        await sleep(POLL_MS, undefined, { signal });
      }
      if (!cp || cp.size < last)
        throw new Error(
          `no checkpoint covers leaf ${last - 1} of this tenant's log yet (is the sealer running?)`,
        );
      const read = storedHashReader(client, tenant, storedHashCount(cp.size));
      const proof = await multiProof(cp.size, set, read);
      // Never hand out proof material that does not hold against the signed root.
      const indexes = set.flatMap(([lo, hi]) => Array.from({ length: hi - lo }, (_, k) => lo + k));
      const hashes = await read(indexes.map((i) => storedHashIndex(0, i)));
      const byIndex = new Map(indexes.map((i, k) => [i, hashes[k] as Buffer]));
      const root = multiRoot(cp.size, set, (i) => byIndex.get(i) as Buffer, proof);
      if (!root.equals(Buffer.from(cp.root, "base64")))
        throw new LogDamaged(
          `this tenant's integrity log does not prove its leaves against checkpoint ${cp.size}`,
        );
      return {
        log: `${origin}/${tenant}`,
        checkpoint: { size: cp.size, root_hash: cp.root, note: cp.note },
        proof: proof.map((h) => h.toString("base64")),
      };
    },

    sign: (tenant, sha256) => signNote(manifestText(`${origin}/${tenant}`, sha256), [signer]),
  };
}
