/**
 * @module features/query/service
 * Runs the builders' requests and maps hits back to the API form. The only place the query and
 * trail features talk to OpenSearch.
 */
import type { Client } from "@opensearch-project/opensearch";
import { type AuditDocument, fromDocument } from "../../events/event.mapping.ts";
import type { AuditEvent } from "../../events/event.schema.ts";
import { searchAudit } from "../../opensearch/search.ts";
import type { Tenant } from "../../opensearch/tenant-scope.ts";
import type { Filters } from "./query.params.ts";
import { type EventPosition, eventsSearch, pathsSearch } from "./query.query.ts";

interface Hit {
  _source: AuditDocument;
}

export async function findEvents(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  page: { limit: number; after?: EventPosition },
): Promise<{ entries: AuditEvent[]; next: EventPosition | undefined }> {
  const body = await searchAudit<{ hits: { hits: Hit[] } }>(client, eventsSearch(tenant, filters, page));
  const hits = body.hits.hits;
  const pageHits = hits.slice(0, page.limit);
  const last = pageHits.at(-1);
  return {
    entries: pageHits.map((h) => fromDocument(h._source)),
    // The position comes from the document, not from `sort`: that nanosecond value is beyond 2^53.
    next: hits.length > page.limit && last ? [last._source["@timestamp"], last._source.event.id] : undefined,
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
  first: { hits: { hits: { _source: { "@timestamp": string } }[] } };
  last: { hits: { hits: { _source: { "@timestamp": string } }[] } };
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
      first_at: b.first.hits.hits[0]?._source["@timestamp"] as string,
      last_at: b.last.hits.hits[0]?._source["@timestamp"] as string,
    })),
    next: buckets.length > page.limit ? pageBuckets.at(-1)?.key.path : undefined,
  };
}
