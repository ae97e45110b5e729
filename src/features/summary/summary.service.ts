/**
 * @module features/summary/service
 * Runs the summary, series and anomaly requests. The only place this feature talks to OpenSearch.
 */
import type { Client } from "@opensearch-project/opensearch";
import { timestampOf } from "../../events/event.mapping.ts";
import { parseTimestamp } from "../../events/time.ts";
import type { Filters } from "../../filters/filters.ts";
import { AUDIT_STREAM, ROLLUP_INDEX } from "../../opensearch/names.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import { purgedBefore } from "../../tenancy/retention.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { type Interval, intervalMs } from "./intervals.ts";
import { readWatermark } from "./rollup.job.ts";
import {
  DAY_MS,
  dirtyHoursSearch,
  HOUR_MS,
  periodsOf,
  type RollupPlan,
  rollupSpans,
} from "./rollup.query.ts";
import {
  anomaliesSearch,
  type GroupBy,
  oldestSearch,
  parseSeries,
  parseSummary,
  SERIES_ROWS,
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

export async function series(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  opts: { groupBy: GroupBy; interval: Interval; window: WindowMs; limit: number; after?: string },
) {
  // Daily rows serve series in buckets of whole days, by an entity whose rows carry the outcome.
  const plan =
    SERIES_ROWS[opts.groupBy] && intervalMs(opts.interval) >= DAY_MS
      ? await rollupPlan(client, tenant, filters, opts)
      : undefined;
  const rows = plan?.days ? plan : undefined;
  const index = rows ? `${AUDIT_STREAM},${ROLLUP_INDEX}` : AUDIT_STREAM;
  return parseSeries(await search(client, seriesSearch(tenant, filters, opts, rows), index), opts.limit);
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

/** Past this many dirty hours the rows save little: the summary reads the events alone. */
const MAX_DIRTY_HOURS = 1000;

export async function summarize(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  opts: { interval: Interval; window: WindowMs; top: number },
) {
  const plan = await rollupPlan(client, tenant, filters, opts);
  const body = summarySearch(tenant, filters, opts, plan);
  const index = plan ? `${AUDIT_STREAM},${ROLLUP_INDEX}` : AUDIT_STREAM;
  return parseSummary(await search(client, body, index), opts.interval);
}

/**
 * Where the rollup's rows can stand in for events (see rollup.query): a summary with no filter but
 * its window, in buckets of whole hours, once the rollup job has committed a watermark. Undefined
 * when the events alone answer it.
 */
export async function rollupPlan(
  client: Client,
  tenant: Tenant,
  filters: Filters,
  opts: { interval: Interval; window: WindowMs },
): Promise<RollupPlan | undefined> {
  const { from: _from, to: _to, ...rest } = filters;
  if (Object.values(rest).some((v) => v !== undefined) || intervalMs(opts.interval) < HOUR_MS)
    return undefined;
  const [committed, purged] = await Promise.all([readWatermark(client), purgedBefore(client, tenant.id)]);
  const spans = committed && rollupSpans(opts.window, tenant.since, purged);
  if (!committed || !spans) return undefined;
  const dirtyHours: number[] = [];
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const at = { stream: AUDIT_STREAM, mark: committed.mark };
    const body = (await search(client, dirtyHoursSearch(tenant, spans.hours, at, 500, after))) as {
      aggregations: { hours: { buckets: { key: { hour: number } }[]; after_key?: Record<string, unknown> } };
    };
    const { buckets, after_key } = body.aggregations.hours;
    dirtyHours.push(...buckets.map((b) => b.key.hour));
    if (dirtyHours.length > MAX_DIRTY_HOURS) return undefined;
    if (buckets.length < 500 || !after_key) break;
    after = after_key;
  }
  return { ...spans, dirtyHours, dirtyDays: periodsOf(dirtyHours, DAY_MS) };
}
