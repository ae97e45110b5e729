/**
 * @module opensearch/tenant-scope
 * The one place a tenant is applied to a read. Every query builder wraps its clauses with
 * `scoped`, and a unit test runs every builder and fails if an output lacks the tenant filter.
 */

export type Clause = Record<string, unknown>;

export const TENANT_FIELD = "scaivault.tenant";

/** A bool query whose first filter is the tenant; `clauses` are ANDed after it. */
export function scoped(tenant: string, clauses: Clause[]): Clause {
  return { bool: { filter: [{ term: { [TENANT_FIELD]: tenant } }, ...clauses] } };
}
