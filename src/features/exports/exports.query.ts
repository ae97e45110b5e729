/**
 * @module features/exports/query
 * PURE: the request bodies the export feature sends (the snapshot's count and pages, job lists).
 */
import type { SortKey } from "../../events/event.mapping.ts";
import { filterClauses } from "../../filters/filters.query.ts";
import type { Filters } from "../../filters/filters.ts";
import { type Clause, scoped, type Tenant } from "../../tenancy/tenant-scope.ts";
import type { ExportStatus } from "./exports.schema.ts";

/** Oldest first (an archive reads forward in time), then id: a total order within a tenant. */
export const EXPORT_SORT = [{ "@timestamp": { order: "asc" } }, { "event.id": { order: "asc" } }];

/** The snapshot's size: counted once, exactly, on the point in time. */
export function snapshotCount(tenant: Tenant, f: Filters, pit: { id: string; keepAlive: string }): Clause {
  return {
    query: scoped(tenant, filterClauses(f)),
    pit: { id: pit.id, keep_alive: pit.keepAlive },
    size: 0,
    track_total_hits: true,
  };
}

/**
 * One page of the snapshot. `after` is a position taken from a document (a date string, never the
 * nanosecond sort value, which a JavaScript number would round).
 */
export function snapshotPage(
  tenant: Tenant,
  f: Filters,
  page: { pitId: string; keepAlive: string; size: number; after: SortKey | null },
): Clause {
  return {
    query: scoped(tenant, filterClauses(f)),
    pit: { id: page.pitId, keep_alive: page.keepAlive },
    sort: EXPORT_SORT,
    size: page.size,
    track_total_hits: false,
    ...(page.after ? { search_after: page.after } : {}),
  };
}

/** A tenant's export jobs, newest first, optionally by status. */
export function jobsList(
  tenant: string,
  page: { limit: number; status?: ExportStatus; after?: [createdAt: string, id: string] },
): Clause {
  return {
    // Jobs are not audit events: no retention cut-off.
    query: scoped({ id: tenant, since: null }, page.status ? [{ term: { status: page.status } }] : []),
    sort: [{ created_at: { order: "desc" } }, { export_id: { order: "desc" } }],
    size: page.limit + 1,
    track_total_hits: false,
    _source: { excludes: ["checkpoint"] },
    ...(page.after ? { search_after: page.after } : {}),
  };
}

/**
 * Jobs any worker may claim, for every tenant (the worker runs each job under its own tenant):
 * pending ones, and running ones whose worker stopped renewing its lease. Oldest first.
 */
export function claimableJobs(nowIso: string, size: number): Clause {
  return {
    query: {
      bool: {
        should: [
          { term: { status: "pending" } },
          {
            bool: {
              filter: [{ term: { status: "running" } }, { range: { "lease.expires_at": { lt: nowIso } } }],
            },
          },
        ],
        minimum_should_match: 1,
      },
    },
    sort: [{ created_at: { order: "asc" } }],
    size,
    seq_no_primary_term: true,
    track_total_hits: false,
    _source: ["export_id", "status"],
  };
}
