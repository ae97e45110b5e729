/**
 * @module opensearch/tenant-scope
 * The one place a tenant — and its retention cut-off — is applied to a read. Every query builder
 * wraps its clauses with `scoped`, and a unit test runs every builder and fails if an output lacks
 * the tenant filter or the cut-off.
 */

export type Clause = Record<string, unknown>;

export const TENANT_FIELD = "scaivault.tenant";

/**
 * A document id owned by `tenant`: events (`tenant:eventId`) and export jobs (`tenant:exportId`).
 * A lookup by id built from the verified tenant can never reach another tenant's document. Tenant ids cannot contain ':' (see TENANT_ID), so
 * two tenants' ids never collide.
 */
export const scopedId = (tenant: string, id: string): string => `${tenant}:${id}`;

/**
 * Whose data a read is about: the tenant from the verified token, and the oldest instant its
 * retention still shows (`since`; null only for documents that are not audit events, such as
 * export jobs). Resolved once per request (see features/retention).
 */
export interface Tenant {
  id: string;
  since: string | null;
}

/**
 * A bool query whose first filter is the tenant, then its retention cut-off on `@timestamp`;
 * `clauses` are ANDed after them.
 */
export function scoped(tenant: Tenant, clauses: Clause[]): Clause {
  const cutoff: Clause[] = tenant.since
    ? [{ range: { "@timestamp": { gte: tenant.since, format: "strict_date_optional_time_nanos" } } }]
    : [];
  return { bool: { filter: [{ term: { [TENANT_FIELD]: tenant.id } }, ...cutoff, ...clauses] } };
}

/**
 * The in-memory twin of `scoped`, for documents read once for many readers (the live tail's
 * shared feed, which reads the new events of every tenant subscribed on a replica): the same
 * tenant and not older than its cut-off. Canonical timestamps (fixed width, `Z`) compare as strings.
 */
export function inScope(
  tenant: Tenant,
  doc: { tenant: string | null; event: { timestamp: string } },
): boolean {
  return doc.tenant === tenant.id && (tenant.since === null || doc.event.timestamp >= tenant.since);
}
