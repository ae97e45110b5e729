/**
 * @module features/query/service
 * Runs the builders' requests and maps hits back to the API form. The only place the query and
 * trail features talk to OpenSearch.
 */
import type { Client } from "@opensearch-project/opensearch";
import { readDocument, type SortKey, timestampOf } from "../../events/event.mapping.ts";
import type { AuditEvent } from "../../events/event.schema.ts";
import type { Filters } from "../../filters/filters.ts";
import { searchAudit } from "../../opensearch/search.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { eventsSearch, pathsSearch } from "./query.query.ts";

interface Hit {
  _source: unknown;
}

export async function findEvents(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  page: { limit: number; after?: SortKey },
): Promise<{ entries: AuditEvent[]; next: SortKey | undefined }> {
  const body = await searchAudit<{ hits: { hits: Hit[] } }>(client, eventsSearch(tenant, filters, page));
  const hits = body.hits.hits;
  const stored = hits.slice(0, page.limit).map((h) => readDocument(h._source));
  return {
    entries: stored.map((s) => s.event),
    // The position comes from the document, not from `sort`: that nanosecond value is beyond 2^53.
    next: hits.length > page.limit ? stored.at(-1)?.sortKey : undefined,
  };
}

export interface PathSummary {
  path: string;
  actions: Record<string, number>;
  first_at: string;
  last_at: string;
}

interface PathBucket {
  key: { path: string };
  actions: { buckets: { key: string; doc_count: number }[] };
  first: { hits: { hits: { _source: { "@timestamp"?: unknown } }[] } };
  last: { hits: { hits: { _source: { "@timestamp"?: unknown } }[] } };
}

export async function findPaths(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  page: { limit: number; after?: string },
): Promise<{ paths: PathSummary[]; next: string | undefined }> {
  const body = await searchAudit<{ aggregations: { paths: { buckets: PathBucket[] } } }>(
    client,
    pathsSearch(tenant, filters, page),
  );
  const buckets = body.aggregations.paths.buckets;
  const pageBuckets = buckets.slice(0, page.limit);
  return {
    paths: pageBuckets.map((b) => ({
      path: b.key.path,
      actions: Object.fromEntries(b.actions.buckets.map((a) => [a.key, a.doc_count])),
      first_at: timestampOf(b.first.hits.hits[0]?._source["@timestamp"]),
      last_at: timestampOf(b.last.hits.hits[0]?._source["@timestamp"]),
    })),
    next: buckets.length > page.limit ? pageBuckets.at(-1)?.key.path : undefined,
  };
}
