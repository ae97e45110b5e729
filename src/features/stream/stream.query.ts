/**
 * @module features/stream/query
 * PURE builders for the live tail: one shard's operations in a `_seq_no` range, in store order.
 */

import { filterClauses } from "../../filters/filters.query.ts";
import type { Filters } from "../../filters/filters.ts";
import type { SeqRange } from "../../opensearch/progress.ts";
import { type Clause, scoped, TENANT_FIELD, type Tenant } from "../../tenancy/tenant-scope.ts";

const inRange = (r: SeqRange): Clause => ({ range: { _seq_no: { gte: r.from, lte: r.to } } });

const inStoreOrder = (size: number): Clause => ({
  sort: [{ _seq_no: { order: "asc" } }],
  size,
  seq_no_primary_term: true,
  track_total_hits: false,
});

/**
 * The shared feed's read: the new events of every tenant with a subscriber on this replica. Not
 * `scoped` — it is read once for all of them — so `inScope` (beside `scoped`) gives each
 * subscriber only its own tenant's events.
 */
export function changesSearch(tenants: string[], range: SeqRange, size: number): Clause {
  return {
    query: { bool: { filter: [{ terms: { [TENANT_FIELD]: tenants } }, inRange(range)] } },
    ...inStoreOrder(size),
  };
}

/** A resuming client's catch-up: its tenant's events matching its filters in the range. */
export function catchUpSearch(tenant: Tenant, filters: Filters, range: SeqRange, size: number): Clause {
  return { query: scoped(tenant, [...filterClauses(filters), inRange(range)]), ...inStoreOrder(size) };
}
