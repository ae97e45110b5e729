/**
 * @module features/delivery/query
 * PURE: the request bodies delivery sends — one tenant's matching events in one shard's `_seq_no`
 * range, in store order; how many are still to go; the destinations.
 */
import { filterClauses } from "../../filters/filters.query.ts";
import type { Filters } from "../../filters/filters.ts";
import type { SeqRange } from "../../opensearch/progress.ts";
import { type Clause, scoped, TENANT_FIELD, type Tenant } from "../../tenancy/tenant-scope.ts";

const inRange = (r: SeqRange): Clause => ({ range: { _seq_no: { gte: r.from, lte: r.to } } });

/** While a replay has not reached the position it was asked at, only events from its instant on. */
const since = (replayFrom: string | null): Clause[] =>
  replayFrom
    ? [{ range: { "@timestamp": { gte: replayFrom, format: "strict_date_optional_time_nanos" } } }]
    : [];

/**
 * The next events for a destination, in store order. Without the retention cut-off on purpose:
 * an event past it is not sent but counted (`skipped_by_retention`), decided in memory by `inScope`.
 */
export function pendingEvents(
  tenant: Tenant,
  f: Filters,
  range: SeqRange,
  size: number,
  replayFrom: string | null,
): Clause {
  return {
    query: scoped({ id: tenant.id, since: null }, [
      ...filterClauses(f),
      ...since(replayFrom),
      inRange(range),
    ]),
    sort: [{ _seq_no: { order: "asc" } }],
    size,
    seq_no_primary_term: true,
    track_total_hits: false,
  };
}

/** How many matching events within retention lie in a shard's range (a status's lag). */
export function lagCount(tenant: Tenant, f: Filters, range: SeqRange, replayFrom: string | null): Clause {
  return { query: scoped(tenant, [...filterClauses(f), ...since(replayFrom), inRange(range)]) };
}

/** The oldest matching event within retention in a shard's range: when it was stored (a status's lag in seconds). */
export function oldestPending(
  tenant: Tenant,
  f: Filters,
  range: SeqRange,
  replayFrom: string | null,
): Clause {
  return {
    query: scoped(tenant, [...filterClauses(f), ...since(replayFrom), inRange(range)]),
    sort: [{ _seq_no: { order: "asc" } }],
    size: 1,
    _source: ["event.ingested"],
    track_total_hits: false,
  };
}

/** The tenant's destinations, oldest first. */
export function destinationsList(tenant: string, size: number): Clause {
  return {
    query: { bool: { filter: [{ term: { [TENANT_FIELD]: tenant } }, { term: { kind: "destination" } }] } },
    sort: [{ created_at: { order: "asc" } }, { destination_id: { order: "asc" } }],
    size,
  };
}

/** The deliverers' work list over every tenant: each destination is then delivered under its own tenant. */
export function allDestinations(size: number): Clause {
  return {
    query: { bool: { filter: [{ term: { kind: "destination" } }, { term: { paused: false } }] } },
    sort: [{ created_at: { order: "asc" } }, { destination_id: { order: "asc" } }],
    size,
    _source: ["scaivault.tenant", "destination_id"],
  };
}
