/**
 * @module features/retention/query
 * PURE: what the purge deletes. A tenant's expired events are the ones its reads already hide
 * (`@timestamp` before its cut-off); tenants on the default retention are purged together.
 */
import type { Clause } from "../../opensearch/tenant-scope.ts";
import { TENANT_FIELD } from "../../opensearch/tenant-scope.ts";

const before = (cutoff: string): Clause => ({
  range: { "@timestamp": { lt: cutoff, format: "strict_date_optional_time_nanos" } },
});

/** One tenant's events older than its cut-off. */
export function expiredFor(tenant: string, cutoff: string): Clause {
  return { query: { bool: { filter: [{ term: { [TENANT_FIELD]: tenant } }, before(cutoff)] } } };
}

/** Every other tenant's events older than the default cut-off. */
export function expiredForDefault(cutoff: string, customTenants: string[]): Clause {
  return {
    query: {
      bool: {
        filter: [before(cutoff)],
        ...(customTenants.length > 0 ? { must_not: [{ terms: { [TENANT_FIELD]: customTenants } }] } : {}),
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
