/**
 * @module features/query/query
 * PURE builders: filters in, OpenSearch request body out. No client, no clock. Every body goes
 * through `scoped`, which puts the tenant filter first.
 */
import { filterClauses } from "../../filters/filters.query.ts";
import type { Filters } from "../../filters/filters.ts";
import { type Clause, scoped, type Tenant } from "../../tenancy/tenant-scope.ts";

/** Newest first, then id: a total order per tenant, so search_after never skips or repeats. */
export const EVENT_SORT = [{ "@timestamp": { order: "desc" } }, { "event.id": { order: "desc" } }];

/**
 * A position in EVENT_SORT: the event's canonical timestamp and its id. OpenSearch takes a
 * date string in search_after for a date_nanos sort, so the position never passes through a
 * JavaScript number (nanosecond sort values exceed 2^53 and would be rounded).
 */
export type EventPosition = [timestamp: string, id: string];

/** One page of events, newest first; one extra hit tells whether another page follows. */
export function eventsSearch(
  tenant: Tenant,
  f: Filters,
  page: { limit: number; after?: EventPosition },
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

/** Every builder, with sample arguments: the tenant-isolation test runs each of them. */
export const BUILDERS: Record<string, (tenant: Tenant) => Clause> = {
  eventsSearch: (t) =>
    eventsSearch(
      t,
      { actions: ["read"], pathPrefix: "prod" },
      { limit: 10, after: ["2026-11-26T14:30:05.123456Z", "x"] },
    ),
  pathsSearch: (t) => pathsSearch(t, { identityId: "user:x" }, { limit: 10, after: "prod/a" }),
};
