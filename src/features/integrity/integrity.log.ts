/**
 * @module features/integrity/log
 * A tenant's Merkle log as stored in scaivault-integrity (layout: integrity.query): reading its
 * state and stored hashes, and the documents one append writes. The sealer appends, the service
 * reads; neither reads past the committed size.
 */
import type { Client } from "@opensearch-project/opensearch";
import { statusOf } from "../../opensearch/errors.ts";
import { INTEGRITY_INDEX } from "../../opensearch/names.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import { CHUNK, hashesId, type LogState, leavesId, stateId, tenantLeavesWithIds } from "./integrity.query.ts";
import {
  EMPTY_ROOT,
  edgeIndexes,
  HASH_SIZE,
  type Hash,
  type HashReader,
  hashesToStore,
  leafHash,
  storedHashCount,
  treeHash,
} from "./tlog.ts";

const EMPTY_STATE: LogState = {
  size: 0,
  root: EMPTY_ROOT.toString("base64"),
  edge: [],
  through: null,
  checkpointed: 0,
  checkpointedAt: null,
};

type Doc = {
  _id: string;
  found?: boolean;
  _source?: Record<string, unknown>;
  _seq_no?: number;
  _primary_term?: number;
};

/** A document's version, for a write that must not overwrite another writer's (null: it does not exist). */
export type Version = { seqNo: number; primaryTerm: number } | null;

async function mgetDocs(client: Client, ids: string[]): Promise<Map<string, Doc>> {
  if (ids.length === 0) return new Map();
  const res = await client.mget({ index: INTEGRITY_INDEX, body: { ids } });
  const docs = (res.body as { docs: Doc[] }).docs;
  return new Map(docs.filter((d) => d.found && d._source).map((d) => [d._id, d]));
}

async function mget(client: Client, ids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const docs = await mgetDocs(client, ids);
  return new Map([...docs].map(([id, d]) => [id, d._source as Record<string, unknown>]));
}

/** The committed states of these tenants (absent: an empty log), with the version each was read at. */
export async function readStates(
  client: Client,
  tenants: string[],
): Promise<Map<string, { state: LogState; version: Version }>> {
  const found = await mgetDocs(client, tenants.map(stateId));
  return new Map(
    tenants.map((t) => {
      const doc = found.get(stateId(t));
      const state = (doc?._source?.data as LogState | undefined) ?? { ...EMPTY_STATE };
      const version = doc ? { seqNo: doc._seq_no as number, primaryTerm: doc._primary_term as number } : null;
      return [t, { state, version }];
    }),
  );
}

export async function readState(client: Client, tenant: string): Promise<LogState> {
  return (await readStates(client, [tenant])).get(tenant)?.state as LogState;
}

const hashesOf = (source: Record<string, unknown> | undefined): Buffer =>
  Buffer.from(typeof source?.hashes === "string" ? source.hashes : "", "base64");

/**
 * Reads a tenant's stored hashes from their chunks, never past the first `count` (what the
 * committed size stores): a hash missing or cut short there means the log's documents were
 * altered, and is reported as such.
 */
export function storedHashReader(client: Client, tenant: string, count: number): HashReader {
  return async (indexes) => {
    const chunks = [...new Set(indexes.map((x) => Math.floor(x / CHUNK)))];
    const found = await mget(
      client,
      chunks.map((c) => hashesId(tenant, c)),
    );
    return indexes.map((x) => {
      if (x >= count) throw new RangeError(`stored hash ${x} is past the log's ${count}`);
      const bytes = hashesOf(found.get(hashesId(tenant, Math.floor(x / CHUNK))));
      const at = (x % CHUNK) * HASH_SIZE;
      if (bytes.length < at + HASH_SIZE) throw new LogDamaged(`stored hash ${x} is missing`);
      return bytes.subarray(at, at + HASH_SIZE);
    });
  };
}

/** The leaf index of each of these ids that is a leaf of the tenant's log of `size` leaves. */
export async function leafIndexes(
  client: Client,
  tenant: string,
  ids: string[],
  size: number,
): Promise<Map<string, number>> {
  const res = (await search(
    client,
    tenantLeavesWithIds({ id: tenant, since: null }, ids),
    INTEGRITY_INDEX,
  )) as {
    hits: { hits: { _source: { chunk: number; ids: string[] } }[] };
  };
  const asked = new Set(ids);
  const at = new Map<string, number>();
  for (const { _source } of res.hits.hits)
    _source.ids.forEach((id, i) => {
      const index = _source.chunk * CHUNK + i;
      if (asked.has(id) && index < size) at.set(id, index);
    });
  return at;
}

/** The log's own documents do not hold what its state says they hold. */
export class LogDamaged extends Error {}

export interface Append {
  state: LogState;
  /** The documents to write before the state (chunks), then the state. */
  chunks: { id: string; doc: Record<string, unknown> }[];
}

/**
 * Appends `leaves` (event id and leaf data, in order) to a tenant's log: the new state and every
 * chunk document the append touches, rewritten whole. `partial` holds the chunks the log ends in
 * (its last hashes and leaves chunk) as stored, so their committed part is kept.
 */
export async function append(
  tenant: string,
  state: LogState,
  leaves: { id: string; time: string; data: Buffer }[],
  partial: { hashes: Buffer; ids: string[]; times: string[] },
): Promise<Append> {
  const known = new Map<number, Hash>(state.edge.map(([i, h]) => [i, Buffer.from(h, "base64")]));
  const read: HashReader = async (xs) =>
    xs.map((x) => {
      const h = known.get(x);
      if (!h) throw new LogDamaged(`the log's right edge lacks stored hash ${x}`);
      return h;
    });
  const firstNew = storedHashCount(state.size);
  const added: Hash[] = [];
  for (const [i, leaf] of leaves.entries()) {
    const n = state.size + i;
    const stored = await hashesToStore(n, leafHash(leaf.data), read);
    for (const [j, h] of stored.entries()) known.set(storedHashCount(n) + j, h);
    added.push(...stored);
  }
  const size = state.size + leaves.length;
  const edge = edgeIndexes(size);
  const root = await treeHash(size, read);

  const chunks: Append["chunks"] = [];
  // Hashes: the committed part of the last chunk, then the new ones, cut into chunks.
  const hashStart = Math.floor(firstNew / CHUNK) * CHUNK;
  const hashes = Buffer.concat([partial.hashes.subarray(0, (firstNew - hashStart) * HASH_SIZE), ...added]);
  for (let at = 0; at < hashes.length; at += CHUNK * HASH_SIZE) {
    const chunk = hashStart / CHUNK + at / (CHUNK * HASH_SIZE);
    const part = hashes.subarray(at, at + CHUNK * HASH_SIZE).toString("base64");
    chunks.push({
      id: hashesId(tenant, chunk),
      doc: { kind: "hashes", scaivault: { tenant }, chunk, hashes: part },
    });
  }
  const leafStart = Math.floor(state.size / CHUNK) * CHUNK;
  const kept = state.size - leafStart;
  const ids = [...partial.ids.slice(0, kept), ...leaves.map((l) => l.id)];
  const times = [...partial.times.slice(0, kept), ...leaves.map((l) => l.time)];
  for (let at = 0; at < ids.length; at += CHUNK) {
    const chunk = leafStart / CHUNK + at / CHUNK;
    chunks.push({
      id: leavesId(tenant, chunk),
      doc: {
        kind: "leaves",
        scaivault: { tenant },
        chunk,
        ids: ids.slice(at, at + CHUNK),
        // Each leaf's event time: a verification over a time window finds its leaves, and one whose
        // event is gone is told apart as purged by retention (its time before a purge receipt's cut-off).
        data: { times: times.slice(at, at + CHUNK) },
      },
    });
  }
  return {
    state: {
      ...state,
      size,
      root: root.toString("base64"),
      edge: edge.map((x) => [x, (known.get(x) as Hash).toString("base64")]),
    },
    chunks,
  };
}

/**
 * Every chunk document appending `count` leaves to a log of `size` rewrites or creates, as stored
 * now: the committed part of the last ones (for `append`) and each one's version. Read together
 * with the state: the append then writes each only over the version seen here, so a sealer that
 * stalled past its lease can never overwrite what another one committed meanwhile.
 */
export async function readChunks(
  client: Client,
  tenant: string,
  size: number,
  count: number,
): Promise<{ partial: { hashes: Buffer; ids: string[]; times: string[] }; versions: Map<string, Version> }> {
  const span = (lo: number, hi: number, id: (c: number) => string) => {
    const out: string[] = [];
    for (let c = Math.floor(lo / CHUNK); c <= Math.floor((hi - 1) / CHUNK); c++) out.push(id(c));
    return out;
  };
  const hashIds = span(storedHashCount(size), storedHashCount(size + count), (c) => hashesId(tenant, c));
  const leafIds = span(size, size + count, (c) => leavesId(tenant, c));
  const found = await mgetDocs(client, [...hashIds, ...leafIds]);
  const leaves = found.get(leafIds[0] as string)?._source;
  const ids = leaves?.ids;
  const times = (leaves?.data as { times?: unknown } | undefined)?.times;
  const versions = new Map<string, Version>(
    [...hashIds, ...leafIds].map((id) => {
      const d = found.get(id);
      return [id, d ? { seqNo: d._seq_no as number, primaryTerm: d._primary_term as number } : null];
    }),
  );
  return {
    partial: {
      hashes: hashesOf(found.get(hashIds[0] as string)?._source),
      ids: Array.isArray(ids) ? ids.map(String) : [],
      times: Array.isArray(times) ? times.map(String) : [],
    },
    versions,
  };
}

/**
 * The state document (`pending` while the log has grown past its newest checkpoint), written only
 * over the version it was read at: of two sealers (a lease that ran out under a stalled one), the
 * second to commit a tenant's log fails instead of forking it.
 */
export const stateDocument = (tenant: string, state: LogState, version: Version) => ({
  id: stateId(tenant),
  version,
  doc: {
    kind: "state",
    scaivault: { tenant },
    size: state.size,
    pending: state.size > state.checkpointed,
    data: state,
  },
});

export async function getOrNull(client: Client, id: string): Promise<Record<string, unknown> | null> {
  try {
    const res = await client.get({ index: INTEGRITY_INDEX, id });
    return (res.body._source as Record<string, unknown>) ?? null;
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}
