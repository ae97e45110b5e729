/**
 * @module features/integrity/verify
 * A verification run: re-hashes a tenant's stored events against its Merkle log, a leaf range or
 * a time window at a time, and says what holds.
 *
 * Trust comes from the newest signed checkpoint only: its signature is checked with the published
 * keys, then, a batch of leaves at a time, the batch's stored leaf hashes and the stored hashes
 * around them must hash up to its signed root (else the log's documents were altered: `damaged`).
 * Each leaf's event is then read (every stored copy, past the retention cut-off too) and hashed as
 * /logs shows it: equal → verified, different → modified, gone → purged when a signed purge
 * receipt's cut-off is past the leaf's time, else missing. A time window also reads the store:
 * an event of the window that is no leaf is unexpected when the sealer refused it (not written by
 * ingest: see sealer.job), else unsealed (not in a signed checkpoint yet); the whole log's run
 * names every refused event still stored as unexpected.
 */
import type { Client } from "@opensearch-project/opensearch";
import { readDocument, type SortKey } from "../../events/event.mapping.ts";
import { leafData } from "../../events/leaf.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX } from "../../opensearch/names.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { LogDamaged, leafIndexes, storedHashReader } from "./integrity.log.ts";
import {
  CHUNK,
  eventsInWindow,
  eventsWithIds,
  latestCheckpointSearch,
  leavesId,
  refusedSearch,
  type StoredCheckpoint,
} from "./integrity.query.ts";
import { readReceipts } from "./integrity.receipts.ts";
import { NoteError, openNote, parseCheckpoint, type Verifier } from "./note.ts";
import { type Hash, leafHash, storedHashCount, storedHashIndex, treeHashWith } from "./tlog.ts";

/** What to verify: leaves [from_leaf, to_leaf), or the events of [from, to) (neither: the whole log). */
export type VerifySpec =
  | { kind: "leaves"; fromLeaf: number; toLeaf: number | null }
  | { kind: "window"; from: string; to: string };

/** Names reported per kind: the first this many, in leaf (or time) order. */
export const FIRST = 100;

export interface VerifyReport {
  /** The signed checkpoint everything was checked against (null: nothing sealed yet). */
  checkpoint: { size: number; root_hash: string; timestamp: string } | null;
  /** `verified`: signature and stored hashes hold; `damaged`: one of them does not (see `damage`). */
  log: "verified" | "damaged" | "empty";
  damage: string | null;
  /** Leaves looked at: [from, to). */
  leaves: { from: number; to: number };
  verified: number;
  purged: number;
  unsealed: number;
  modified: string[];
  modified_count: number;
  missing: number[];
  missing_count: number;
  unexpected: string[];
  unexpected_count: number;
  receipts: { valid: number; invalid: number; purged_before: string | null };
}

/** What a run needs beyond OpenSearch: the keys and origin checkpoints and receipts are signed with. */
export interface VerifyContext {
  verifiers: Verifier[];
  origin: string;
  /** Called after each batch with the report so far (the run's progress). */
  progress?: (r: VerifyReport) => Promise<void>;
}

/** Leaves per batch: 64 chunk documents; each batch is proven against the signed root on its own. */
const BATCH = 64 * CHUNK;
/** Ids per event search. */
const IDS = 1000;

type Hits<T> = { hits: { hits: ({ _source: T } & Record<string, unknown>)[] } };

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
/** a < b for stored times: exact for the API form (microseconds), else by milliseconds. */
function timeBefore(a: string, b: string): boolean {
  if (CANONICAL.test(a) && CANONICAL.test(b)) return a < b;
  const x = Date.parse(a);
  const y = Date.parse(b);
  return Number.isFinite(x) && Number.isFinite(y) && x < y;
}

export function emptyReport(): VerifyReport {
  return {
    checkpoint: null,
    log: "empty",
    damage: null,
    leaves: { from: 0, to: 0 },
    verified: 0,
    purged: 0,
    unsealed: 0,
    modified: [],
    modified_count: 0,
    missing: [],
    missing_count: 0,
    unexpected: [],
    unexpected_count: 0,
    receipts: { valid: 0, invalid: 0, purged_before: null },
  };
}

/** One leaf as the log holds it. */
interface LeafRecord {
  index: number;
  id: string;
  time: string;
  hash: Hash;
}

/**
 * PURE: the verdict on each leaf, given the leaf hashes of its event's stored copies (none: gone),
 * added to `r`.
 */
function classify(leaves: LeafRecord[], copies: Map<string, Hash[]>, r: VerifyReport): void {
  const before = r.receipts.purged_before;
  for (const leaf of leaves) {
    const found = copies.get(leaf.id) ?? [];
    if (found.length === 0) {
      if (before !== null && leaf.time !== "" && timeBefore(leaf.time, before)) r.purged++;
      else note(r, "missing", leaf.index);
    } else if (found.every((h) => h.equals(leaf.hash))) r.verified++;
    else note(r, "modified", leaf.id);
  }
}

function note(r: VerifyReport, kind: "missing", what: number): void;
function note(r: VerifyReport, kind: "modified" | "unexpected", what: string): void;
function note(r: VerifyReport, kind: "missing" | "modified" | "unexpected", what: number | string): void {
  r[`${kind}_count`]++;
  const list = r[kind] as (number | string)[];
  if (list.length < FIRST) list.push(what);
}

/** The newest checkpoint, opened with the published keys: its signed size and root, or why not. */
async function signedCheckpoint(
  client: Client,
  tenant: Tenant,
  ctx: VerifyContext,
): Promise<
  { cp: StoredCheckpoint; size: number; root: Buffer } | { cp: StoredCheckpoint; damage: string } | null
> {
  const res = (await search(client, latestCheckpointSearch(tenant), INTEGRITY_INDEX)) as Hits<{
    data: StoredCheckpoint;
  }>;
  const cp = res.hits.hits[0]?._source.data;
  if (!cp) return null;
  try {
    const c = parseCheckpoint(openNote(cp.note, ctx.verifiers).text);
    if (c.origin !== `${ctx.origin}/${tenant.id}`)
      return { cp, damage: `the newest checkpoint names another log (${c.origin})` };
    return { cp, size: c.size, root: c.root };
  } catch (err) {
    if (err instanceof NoteError)
      return { cp, damage: `the newest checkpoint does not verify: ${err.message}` };
    throw err;
  }
}

export async function verify(
  client: Client,
  tenant: Tenant,
  spec: VerifySpec,
  ctx: VerifyContext,
): Promise<VerifyReport> {
  const r = emptyReport();
  const receipts = await readReceipts(client, tenant.id, ctx.origin, ctx.verifiers);
  r.receipts = { valid: receipts.valid, invalid: receipts.invalid, purged_before: receipts.purgedBefore };
  const signed = await signedCheckpoint(client, tenant, ctx);
  if (signed && "damage" in signed) {
    r.log = "damaged";
    r.damage = signed.damage;
    return r;
  }
  const size = signed?.size ?? 0;
  if (signed)
    r.checkpoint = { size, root_hash: signed.root.toString("base64"), timestamp: signed.cp.timestamp };
  const from = spec.kind === "leaves" ? Math.min(spec.fromLeaf, size) : 0;
  const to = spec.kind === "leaves" ? Math.min(spec.toLeaf ?? size, size) : size;
  r.leaves = { from, to };
  if (size > 0) r.log = "verified";
  const read = storedHashReader(client, tenant.id, storedHashCount(size));
  const inWindow =
    spec.kind === "window"
      ? (t: string) => t !== "" && !timeBefore(t, spec.from) && timeBefore(t, spec.to)
      : () => true;

  for (let lo = from; lo < to; lo = Math.min(to, (Math.floor(lo / BATCH) + 1) * BATCH)) {
    const hi = Math.min(to, (Math.floor(lo / BATCH) + 1) * BATCH);
    const leaves = await leafRecords(client, tenant.id, lo, hi, read);
    if (!leaves) {
      damaged(r, `the leaves of ${lo}…${hi - 1} are not all stored`);
      break;
    }
    const root = await treeHashWith(
      size,
      lo,
      leaves.map((l) => l.hash),
      read,
    ).catch((err) => (err instanceof LogDamaged ? null : Promise.reject(err)));
    if (!root?.equals((signed as { root: Buffer }).root)) {
      // Stored hashes that do not hash up to the signed root prove nothing about these leaves.
      damaged(r, `the stored hashes of leaves ${lo}…${hi - 1} do not hash up to the signed root`);
      break;
    }
    const wanted = leaves.filter((l) => inWindow(l.time));
    classify(
      wanted,
      await copiesOf(
        client,
        tenant,
        wanted.map((l) => l.id),
      ),
      r,
    );
    await ctx.progress?.(r);
  }
  if (r.log === "damaged") return r;
  if (spec.kind === "window") await notLeaves(client, tenant, spec, size, r, ctx);
  else if (spec.fromLeaf === 0 && spec.toLeaf === null) await refusedEvents(client, tenant, size, r);
  return r;
}

function damaged(r: VerifyReport, why: string): void {
  r.log = "damaged";
  r.damage = why;
}

/** Leaves [lo, hi) with their stored leaf hashes; null when the log's documents lack some. */
async function leafRecords(
  client: Client,
  tenant: string,
  lo: number,
  hi: number,
  read: (xs: number[]) => Promise<Hash[]>,
): Promise<LeafRecord[] | null> {
  const first = Math.floor(lo / CHUNK);
  const last = Math.floor((hi - 1) / CHUNK);
  const ids = Array.from({ length: last - first + 1 }, (_, i) => leavesId(tenant, first + i));
  const res = await client.mget({ index: INTEGRITY_INDEX, body: { ids } });
  type Doc = { found?: boolean; _source?: { ids?: unknown; data?: { times?: unknown } } };
  const docs = (res.body as { docs: Doc[] }).docs;
  const indexes = Array.from({ length: hi - lo }, (_, i) => lo + i);
  const hashes = await read(indexes.map((i) => storedHashIndex(0, i))).catch((err) =>
    err instanceof LogDamaged ? null : Promise.reject(err),
  );
  if (!hashes) return null;
  const out: LeafRecord[] = [];
  for (const [k, index] of indexes.entries()) {
    const doc = docs[Math.floor(index / CHUNK) - first]?._source;
    const at = index % CHUNK;
    const id = Array.isArray(doc?.ids) ? doc.ids[at] : undefined;
    if (typeof id !== "string") return null;
    const times = doc?.data?.times;
    const time = Array.isArray(times) && typeof times[at] === "string" ? (times[at] as string) : "";
    out.push({ index, id, time, hash: hashes[k] as Hash });
  }
  return out;
}

/** The leaf hash of every stored copy of each event, by id. */
async function copiesOf(client: Client, tenant: Tenant, ids: string[]): Promise<Map<string, Hash[]>> {
  const out = new Map<string, Hash[]>();
  for (let i = 0; i < ids.length; i += IDS) {
    const res = (await search(
      client,
      eventsWithIds(tenant, ids.slice(i, i + IDS)),
      AUDIT_STREAM,
    )) as Hits<unknown>;
    for (const hit of res.hits.hits) {
      const stored = readDocument(hit._source);
      if (stored.tenant !== tenant.id) continue;
      const list = out.get(stored.event.id) ?? [];
      list.push(leafHash(leafData(tenant.id, stored.event)));
      out.set(stored.event.id, list);
    }
  }
  return out;
}

/** The whole log's run: every event the sealer refused that is still stored and is no leaf. */
async function refusedEvents(client: Client, tenant: Tenant, size: number, r: VerifyReport): Promise<void> {
  let after: unknown[] | undefined;
  for (;;) {
    const res = (await search(
      client,
      refusedSearch(tenant, IDS, undefined, after),
      INTEGRITY_INDEX,
    )) as Hits<{
      ids: string[];
    }>;
    const hits = res.hits.hits;
    const ids = [...new Set(hits.flatMap((h) => h._source.ids))];
    if (ids.length > 0) {
      const sealed = new Set((await leafIndexes(client, tenant.id, ids, size)).keys());
      const stored = await copiesOf(client, tenant, ids);
      for (const id of ids) if (!sealed.has(id) && stored.has(id)) note(r, "unexpected", id);
    }
    if (hits.length < IDS) return;
    after = hits.at(-1)?.sort as unknown[];
  }
}

/**
 * The window's stored events that are no leaf of the signed tree: unexpected when the sealer
 * refused them, else unsealed (an event modified to move into the window is its leaf's, not here).
 */
async function notLeaves(
  client: Client,
  tenant: Tenant,
  window: { from: string; to: string },
  size: number,
  r: VerifyReport,
  ctx: VerifyContext,
): Promise<void> {
  let after: SortKey | undefined;
  for (;;) {
    const page = (await search(
      client,
      eventsInWindow(tenant, window, IDS, after),
      AUDIT_STREAM,
    )) as Hits<unknown>;
    const hits = page.hits.hits;
    if (hits.length === 0) return;
    const events = hits.map((h) => readDocument(h._source));
    const ids = [...new Set(events.map((e) => e.event.id))];
    const sealed = new Set((await leafIndexes(client, tenant.id, ids, size)).keys());
    const outside = ids.filter((id) => !sealed.has(id));
    const refused = new Set<string>();
    if (outside.length > 0) {
      const res = (await search(
        client,
        refusedSearch(tenant, outside.length, outside),
        INTEGRITY_INDEX,
      )) as Hits<{
        ids: string[];
      }>;
      for (const { _source } of res.hits.hits) for (const id of _source.ids) refused.add(id);
    }
    for (const e of events) {
      if (sealed.has(e.event.id)) continue;
      if (refused.has(e.event.id)) note(r, "unexpected", e.event.id);
      else r.unsealed++;
    }
    await ctx.progress?.(r);
    if (hits.length < IDS) return;
    after = (events.at(-1) as { sortKey: SortKey }).sortKey;
  }
}
