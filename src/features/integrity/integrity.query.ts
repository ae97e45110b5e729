/**
 * @module features/integrity/query
 * PURE builders and document shapes for the tamper-evident log (see tlog.ts for the tree): each
 * tenant's log lives in scaivault-integrity as
 * - `state:<tenant>`: size, root, the right edge (the stored hashes the next appends need) and
 *   the store position up to which its events are in the tree;
 * - `hashes:<tenant>:<chunk>`: stored hashes CHUNK·chunk … CHUNK·chunk+255, concatenated;
 * - `leaves:<tenant>:<chunk>`: the event ids of leaves CHUNK·chunk …, in leaf order;
 * - `checkpoint:<tenant>:<size>`: a signed checkpoint;
 * - `receipt:<tenant>:<cut-off>`: a signed purge receipt (retention deleted events before the cut-off);
 * - `verification:<tenant>:<id>`: a verification run and its report;
 * - `refused:<tenant>:<store position>`: an event the sealer did not append (no ingest seal that
 *   holds, or its id a leaf already: written, changed or copied around the API), for verifications.
 * Readers never read past the state's size: what a crashed sealer wrote beyond it is overwritten.
 */
import type { Position } from "../../opensearch/progress.ts";
import { type Clause, scoped, TENANT_FIELD, type Tenant } from "../../tenancy/tenant-scope.ts";

/** Hashes (and leaf ids) per chunk document. */
export const CHUNK = 256;

export const stateId = (tenant: string) => `state:${tenant}`;
export const hashesId = (tenant: string, chunk: number) => `hashes:${tenant}:${chunk}`;
export const leavesId = (tenant: string, chunk: number) => `leaves:${tenant}:${chunk}`;
export const checkpointId = (tenant: string, size: number) => `checkpoint:${tenant}:${size}`;
export const receiptId = (tenant: string, cutoff: string) => `receipt:${tenant}:${cutoff}`;
export const verificationId = (tenant: string, id: string) => `verification:${tenant}:${id}`;
export const refusedId = (tenant: string, p: { gen: number; shard: number; seq: number }) =>
  `refused:${tenant}:${p.gen}:${p.shard}:${p.seq}`;

/** What `state:<tenant>` holds under `data`. */
export interface LogState {
  size: number;
  /** Base64 root hash of the tree of `size` leaves. */
  root: string;
  /** The right edge: [stored index, base64 hash] of the complete subtrees the tree is made of. */
  edge: [number, string][];
  /** The store position up to which this tenant's events are leaves (a re-run skips them). */
  through: Position | null;
  /** The size of the newest signed checkpoint, and when it was signed. */
  checkpointed: number;
  checkpointedAt: string | null;
}

export interface StoredCheckpoint {
  size: number;
  root: string;
  timestamp: string;
  note: string;
}

/** One shard's operations with `_seq_no` in [from, to], in store order: every tenant's (the sealer's read). */
export function storeOrderSearch(range: { from: number; to: number }, size: number): Clause {
  return {
    query: { range: { _seq_no: { gte: range.from, lte: range.to } } },
    sort: [{ _seq_no: { order: "asc" } }],
    size,
    seq_no_primary_term: true,
    track_total_hits: false,
    // The search text copy is no part of the API form: not fetched.
    _source: { excludes: ["scaivault.text"] },
  };
}

/** The leaves chunk holding `eventId` in the tenant's log. */
export function leafSearch(tenant: Tenant, eventId: string): Clause {
  return {
    // The log is every stored event's: no retention cut-off on the integrity index's documents.
    query: scoped({ id: tenant.id, since: null }, [{ term: { kind: "leaves" } }, { term: { ids: eventId } }]),
    size: 1,
    _source: ["chunk", "ids"],
  };
}

/** The leaves chunks (any tenant's) holding any of these event ids: whether they are leaves already. */
export function leavesWithIds(ids: string[]): Clause {
  return {
    query: { bool: { filter: [{ term: { kind: "leaves" } }, { terms: { ids } }] } },
    // A chunk matches once however many of the ids it holds: never more chunks than ids.
    size: ids.length,
    _source: [TENANT_FIELD, "chunk", "ids"],
  };
}

/** Tenants whose log grew past its newest checkpoint, a page at a time (the sealer's). */
export function pendingSearch(size: number, after?: string): Clause {
  return {
    query: { bool: { filter: [{ term: { kind: "state" } }, { term: { pending: true } }] } },
    sort: [{ [TENANT_FIELD]: "asc" }],
    size,
    seq_no_primary_term: true,
    ...(after !== undefined ? { search_after: [after] } : {}),
  };
}

/** The tenant's newest checkpoint. */
export function latestCheckpointSearch(tenant: Tenant): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [{ term: { kind: "checkpoint" } }]),
    sort: [{ size: "desc" }],
    size: 1,
  };
}

/** Whether store position `p` (index generation, shard, sequence number) comes before `mark`. */
export function isBefore(p: { gen: number; shard: number; seq: number }, mark: Position | null): boolean {
  if (!mark) return false;
  return p.gen < mark.gen || (p.gen === mark.gen && p.seq < (mark.seq[p.shard] ?? 0));
}

/** Whether the tenant has an event with this id (within its retention). */
export function eventSearch(tenant: Tenant, eventId: string): Clause {
  return { query: scoped(tenant, [{ term: { "event.id": eventId } }]), size: 1, _source: false };
}

/**
 * The tenant's stored events with these ids, every copy. No retention cut-off: a verification
 * checks every event still stored against its leaf, also one the purge has not reached yet.
 */
export function eventsWithIds(tenant: Tenant, ids: string[]): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [{ terms: { "event.id": ids } }]),
    size: ids.length * 2,
    track_total_hits: false,
  };
}

/** The tenant's stored events in [from, to), oldest first, a page at a time (no cut-off, as above). */
export function eventsInWindow(
  tenant: Tenant,
  window: { from: string; to: string },
  size: number,
  after?: [string, string],
): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [
      {
        range: {
          "@timestamp": {
            gte: window.from,
            lt: window.to,
            format: "strict_date_optional_time_nanos",
          },
        },
      },
    ]),
    sort: [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc" } }],
    size,
    track_total_hits: false,
    ...(after ? { search_after: after } : {}),
  };
}

/** Which of these ids are leaves of the tenant's log (a leaves chunk matches once). */
export function tenantLeavesWithIds(tenant: Tenant, ids: string[]): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [{ term: { kind: "leaves" } }, { terms: { ids } }]),
    size: ids.length,
    _source: ["chunk", "ids"],
  };
}

/** The events of the tenant the sealer refused (see sealer.job), oldest first, a page at a time. */
export function refusedSearch(tenant: Tenant, size: number, ids?: string[], after?: unknown[]): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [
      { term: { kind: "refused" } },
      ...(ids ? [{ terms: { ids } }] : []),
    ]),
    sort: [{ at: { order: "asc" } }, { ids: { order: "asc" } }],
    size,
    _source: ["ids"],
    ...(after ? { search_after: after } : {}),
  };
}

/** The tenant's purge receipts (one per cut-off it was purged to). */
export function receiptsSearch(tenant: Tenant, size: number): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [{ term: { kind: "receipt" } }]),
    sort: [{ at: { order: "desc" } }],
    size,
  };
}
