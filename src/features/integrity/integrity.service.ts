/**
 * @module features/integrity/service
 * Reads a tenant's log for the API: checkpoints, inclusion and consistency proofs, all from the
 * stored hashes and never past the committed size. The only place this feature's routes talk to
 * OpenSearch.
 */
import type { Client } from "@opensearch-project/opensearch";
import { Internal, invalidField, NotFound, NotYet } from "../../errors.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX } from "../../opensearch/names.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { getOrNull, LogDamaged, readState, storedHashReader } from "./integrity.log.ts";
import {
  CHUNK,
  checkpointId,
  eventSearch,
  latestCheckpointSearch,
  leafSearch,
  type StoredCheckpoint,
} from "./integrity.query.ts";
import {
  consistencyProof,
  type HashReader,
  inclusionProof,
  storedHashCount,
  storedHashIndex,
  verifyInclusion,
} from "./tlog.ts";

/** How long a client waits for an event to be sealed and covered by a checkpoint. */
const RETRY_SECONDS = 10;

type Hits<T> = { hits: { hits: { _source: T }[] } };

/** The newest checkpoint, or the one signed at `size`; NotFound when there is none. */
export async function checkpoint(client: Client, tenant: Tenant, size?: number): Promise<StoredCheckpoint> {
  if (size !== undefined) {
    const doc = await getOrNull(client, checkpointId(tenant.id, size));
    if (!doc) throw new NotFound(`no checkpoint was signed at size ${size}`);
    return doc.data as StoredCheckpoint;
  }
  const res = (await search(client, latestCheckpointSearch(tenant), INTEGRITY_INDEX)) as Hits<{
    data: StoredCheckpoint;
  }>;
  const hit = res.hits.hits[0];
  if (!hit) throw new NotFound("nothing of this tenant's is sealed yet");
  return hit._source.data;
}

const b64 = (b: Buffer) => b.toString("base64");

/** The tenant's stored hashes, bounded by what its committed state stores. */
async function reader(client: Client, tenant: Tenant) {
  const state = await readState(client, tenant.id);
  const stored = storedHashReader(client, tenant.id, storedHashCount(state.size));
  const read: HashReader = (xs) =>
    stored(xs).catch((err) => {
      // The log's own documents were altered or lost: said plainly, never a proof from them.
      if (err instanceof LogDamaged)
        throw new Internal(`this tenant's integrity log is damaged: ${err.message}`);
      throw err;
    });
  return { size: state.size, read };
}

export async function inclusion(client: Client, tenant: Tenant, eventId: string, size?: number) {
  const found = (await search(client, leafSearch(tenant, eventId), INTEGRITY_INDEX)) as Hits<{
    chunk: number;
    ids: string[];
  }>;
  const chunk = found.hits.hits[0]?._source;
  const at = chunk ? chunk.ids.indexOf(eventId) : -1;
  if (!chunk || at < 0) {
    const event = (await search(client, eventSearch(tenant, eventId), AUDIT_STREAM)) as Hits<unknown>;
    if (event.hits.hits.length === 0) throw new NotFound(`no event ${eventId}`);
    throw new NotYet(`event ${eventId} is not sealed yet`, RETRY_SECONDS);
  }
  const leafIndex = chunk.chunk * CHUNK + at;
  const cp = await checkpoint(client, tenant, size);
  if (leafIndex >= cp.size) {
    if (size !== undefined) throw invalidField("size", `is too small: the event is leaf ${leafIndex}`);
    throw new NotYet(`event ${eventId} is sealed but no checkpoint covers it yet`, RETRY_SECONDS);
  }
  const { read } = await reader(client, tenant);
  const [leaf] = (await read([storedHashIndex(0, leafIndex)])) as [Buffer];
  const proof = await inclusionProof(leafIndex, cp.size, read);
  // Never hand out a proof that does not hold against the signed root: stored hashes that were
  // altered (or overwritten) are reported, not passed on.
  if (!verifyInclusion(leaf, leafIndex, cp.size, proof, Buffer.from(cp.root, "base64")))
    throw new Internal(
      `this tenant's integrity log is damaged: leaf ${leafIndex} does not prove against checkpoint ${cp.size}`,
    );
  return {
    event_id: eventId,
    leaf_index: leafIndex,
    tree_size: cp.size,
    leaf_hash: b64(leaf),
    proof: proof.map(b64),
    checkpoint: cp,
  };
}

export async function consistency(client: Client, tenant: Tenant, from: number, to: number) {
  const { size, read } = await reader(client, tenant);
  if (from > to) throw invalidField("from_size", "is past to_size");
  // A size the log has not reached is a tree that does not exist (yet).
  if (to > size) throw new NotFound(`this tenant's log holds ${size} events: it has no tree of ${to}`);
  return { from_size: from, to_size: to, proof: (await consistencyProof(from, to, read)).map(b64) };
}
