/**
 * @module filters/query
 * PURE: `Filters` → OpenSearch clauses, for every builder that reads events (they wrap them with
 * `scoped()`, which puts the tenant and its retention cut-off first). filters.match gives the same
 * answers in memory.
 */
import type { Clause } from "../tenancy/tenant-scope.ts";
import type { Filters } from "./filters.ts";

export function filterClauses(f: Filters): Clause[] {
  const c: Clause[] = [];
  if (f.from || f.to) {
    c.push({
      range: {
        "@timestamp": {
          ...(f.from ? { gte: f.from } : {}),
          ...(f.to ? { lt: f.to } : {}),
          format: "strict_date_optional_time_nanos",
        },
      },
    });
  }
  if (f.actions) c.push({ terms: { "event.action": f.actions } });
  if (f.identityId) c.push({ term: { "user.id": f.identityId } });
  if (f.identityType) c.push({ term: { "scaivault.identity.type": f.identityType } });
  if (f.path) c.push({ term: { "scaivault.path": f.path } });
  if (f.pathPrefix) {
    // On segment boundaries: the prefix itself, or anything below it — never prod/dbx for prod/db.
    c.push({
      bool: {
        should: [
          { term: { "scaivault.path": f.pathPrefix } },
          { prefix: { "scaivault.path": `${f.pathPrefix}/` } },
        ],
        minimum_should_match: 1,
      },
    });
  }
  if (f.success !== undefined) c.push({ term: { "event.outcome": f.success ? "success" : "failure" } });
  if (f.sourceIp) c.push({ term: { "source.ip": f.sourceIp } }); // an ip field takes CIDR blocks in term
  if (f.requestId) c.push({ term: { "http.request.id": f.requestId } });
  if (f.q) c.push({ match: { "scaivault.text": { query: f.q, operator: "and" } } });
  return c;
}
