/**
 * @module features/query/query
 * PURE builders: filters in, OpenSearch request body out. No client, no clock. Every body goes
 * through `scoped`, which puts the tenant filter first.
 */
import type { SortKey } from "../../events/event.mapping.ts";
import { filterClauses } from "../../filters/filters.query.ts";
import type { Filters } from "../../filters/filters.ts";
import { type Clause, scoped, type Tenant } from "../../tenancy/tenant-scope.ts";

/** Newest first, then id: a total order per tenant, so search_after never skips or repeats. */
export const EVENT_SORT = [{ "@timestamp": { order: "desc" } }, { "event.id": { order: "desc" } }];

/** One page of events, newest first; one extra hit tells whether another page follows. */
export function eventsSearch(
  tenant: Tenant,
  f: Filters,
  page: {
    limit: number;
    /** A date string, never a number: date_nanos sort values exceed 2^53 and would be rounded. */
    after?: SortKey;
  },
): Clause {
  return {
    query: scoped(tenant, filterClauses(f)),
    sort: EVENT_SORT,
    size: page.limit + 1,
    track_total_hits: false,
    ...(page.after ? { search_after: page.after } : {}),
  };
}

/** Distinct paths with per-action counts and first/last time, paged by path (composite aggregation). */
export function pathsSearch(tenant: Tenant, f: Filters, page: { limit: number; after?: string }): Clause {
  const when = (order: "asc" | "desc") => ({
    top_hits: { size: 1, sort: [{ "@timestamp": { order } }], _source: ["@timestamp"] },
  });
  return {
    query: scoped(tenant, filterClauses(f)),
    size: 0,
    track_total_hits: false,
    aggs: {
      paths: {
        composite: {
          // One more than a page: whether it comes back tells if another page follows.
          size: page.limit + 1,
          sources: [{ path: { terms: { field: "scaivault.path", order: "asc" } } }],
          ...(page.after !== undefined ? { after: { path: page.after } } : {}),
        },
        aggs: {
          actions: { terms: { field: "event.action", size: 20 } },
          first: when("asc"),
          last: when("desc"),
        },
      },
    },
  };
}
