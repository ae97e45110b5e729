/**
 * @module features/summary/service
 * Runs the summary, series and anomaly requests. The only place this feature talks to OpenSearch.
 */
import type { Client } from "@opensearch-project/opensearch";
import { timestampOf } from "../../events/event.mapping.ts";
import { parseTimestamp } from "../../events/time.ts";
import type { Filters } from "../../filters/filters.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import type { Interval } from "./intervals.ts";
import {
  anomaliesSearch,
  type GroupBy,
  oldestSearch,
  parseSeries,
  parseSummary,
  scoreAnomalies,
  seriesSearch,
  summarySearch,
  type WindowMs,
} from "./summary.query.ts";

/** The timestamp of the oldest event matching `filters`, or undefined when none matches. */
export async function oldestMatching(
  client: Client,
  tenant: Tenant,
  filters: Filters,
): Promise<string | undefined> {
  const body = (await search(client, oldestSearch(tenant, filters))) as {
    hits: { hits: { _source: { "@timestamp"?: unknown } }[] };
  };
  const hit = body.hits.hits[0];
  if (!hit) return undefined;
  // Read tolerantly; a stored value that is no instant at all leaves the window open as if empty.
  const oldest = timestampOf(hit._source["@timestamp"]);
  return parseTimestamp(oldest).ok ? oldest : undefined;
}

export async function summarize(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  opts: { interval: Interval; window: WindowMs; top: number },
) {
  return parseSummary(await search(client, summarySearch(tenant, filters, opts)), opts.interval);
}

export async function series(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  opts: { groupBy: GroupBy; interval: Interval; window: WindowMs; limit: number; after?: string },
) {
  return parseSeries(await search(client, seriesSearch(tenant, filters, opts)), opts.limit);
}

export async function anomalies(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  opts: {
    groupBy: GroupBy;
    window: WindowMs;
    baselineMs: number;
    maxEntities: number;
    threshold: number;
    minCount: number;
  },
) {
  return scoreAnomalies(await search(client, anomaliesSearch(tenant, filters, opts)), opts);
}
