/**
 * @module opensearch/tenant-scope
 * The one place a tenant is applied to a read. Every query builder wraps its clauses with
 * `scoped`, and a unit test runs every builder and fails if an output lacks the tenant filter.
 */

export type Clause = Record<string, unknown>;

export const TENANT_FIELD = "scaivault.tenant";

/**
 * A document id owned by `tenant`: events (`tenant:eventId`) and export jobs (`tenant:exportId`).
 * A lookup by id built from the verified tenant can never reach another tenant's document. Tenant ids cannot contain ':' (see TENANT_ID), so
 * two tenants' ids never collide.
 */
export const scopedId = (tenant: string, id: string): string => `${tenant}:${id}`;

/** A bool query whose first filter is the tenant; `clauses` are ANDed after it. */
export function scoped(tenant: string, clauses: Clause[]): Clause {
  return { bool: { filter: [{ term: { [TENANT_FIELD]: tenant } }, ...clauses] } };
}
