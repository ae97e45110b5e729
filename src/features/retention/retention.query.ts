/**
 * @module features/retention/query
 * PURE: what the purge deletes. A tenant's expired events are the ones its reads already hide
 * (`@timestamp` before its cut-off); each tenant is counted, purged and checked on its own.
 */
import type { Clause } from "../../tenancy/tenant-scope.ts";
import { TENANT_FIELD } from "../../tenancy/tenant-scope.ts";

const before = (cutoff: string): Clause => ({
  range: { "@timestamp": { lt: cutoff, format: "strict_date_optional_time_nanos" } },
});

/** One tenant's events older than its cut-off. */
export function expiredFor(tenant: string, cutoff: string): Clause {
  return { query: { bool: { filter: [{ term: { [TENANT_FIELD]: tenant } }, before(cutoff)] } } };
}

/** Every tenant that has stored events, a page at a time in tenant order (composite aggregation). */
export function tenantsPage(size: number, after?: string): Clause {
  return {
    size: 0,
    track_total_hits: false,
    aggs: {
      tenants: {
        composite: {
          size,
          sources: [{ tenant: { terms: { field: TENANT_FIELD } } }],
          ...(after !== undefined ? { after: { tenant: after } } : {}),
        },
      },
    },
  };
}

/** Tenants with their own retention. */
export const customRetentions: Clause = {
  query: { exists: { field: "retention_days" } },
  _source: ["scaivault.tenant", "retention_days"],
  size: 10_000,
};
