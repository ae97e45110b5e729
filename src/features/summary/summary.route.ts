/**
 * @module features/summary
 * GET /v1/audit/summary, /v1/audit/summary/series and /v1/audit/anomalies (audit:read).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { isoMicros } from "../../events/time.ts";
import type { AppEnv } from "../../http/env.ts";
import { ProblemError } from "../../http/problem.ts";
import type { Tenant } from "../../opensearch/tenant-scope.ts";
import { type ExtraParam, FILTER_PARAMS, type Filters, parseQuery } from "../query/query.params.ts";
import { problemResponses, type QueryDeps, readPage } from "../query/query.route.ts";
import { filterParams, pageParams } from "../query/query.schema.ts";
import { defaultInterval, INTERVALS, type Interval, intervalMs, isInterval } from "./intervals.ts";
import type { GroupBy, WindowMs } from "./summary.query.ts";
import { AnomaliesSchema, SeriesSchema, SummarySchema } from "./summary.schema.ts";
import { anomalies, oldestMatching, series, summarize } from "./summary.service.ts";

/** Buckets of one histogram (a summary's, or one entity's series). */
const MAX_BUCKETS = 10_000;
/**
 * Buckets one request may make in all: OpenSearch refuses more than 65,535 (search.max_buckets)
 * with a 503, which would invite retrying the impossible. Series pages hold fewer entities, and
 * anomaly runs evaluate fewer, when each needs many buckets.
 */
const BUCKET_BUDGET = 50_000;
/** Window-long slots of an anomaly baseline. */
const MAX_BASELINE_SLOTS = 1_000;

const interval: ExtraParam = (raw) =>
  isInterval(raw)
    ? { ok: true, value: raw }
    : { ok: false, message: `must be one of ${INTERVALS.join(", ")}` };

const intRange =
  (min: number, max: number): ExtraParam =>
  (raw) =>
    /^\d+$/.test(raw) && Number(raw) >= min && Number(raw) <= max
      ? { ok: true, value: Number(raw) }
      : { ok: false, message: `must be a whole number from ${min} to ${max}` };

const oneOf =
  (values: readonly string[]): ExtraParam =>
  (raw) =>
    values.includes(raw)
      ? { ok: true, value: raw }
      : { ok: false, message: `must be one of ${values.join(", ")}` };

/** ISO 8601 durations in days, weeks or hours: P28D, P4W, PT72H. */
export function parseDuration(raw: string): number | undefined {
  const m = /^P(?:(\d+)W|(\d+)D|T(\d+)H)$/.exec(raw);
  if (!m) return undefined;
  const [, w, d, h] = m;
  return w ? Number(w) * 604_800_000 : d ? Number(d) * 86_400_000 : Number(h) * 3_600_000;
}
const duration: ExtraParam = (raw) => {
  const ms = parseDuration(raw);
  return ms && ms > 0
    ? { ok: true, value: raw }
    : { ok: false, message: "must be an ISO 8601 duration in weeks, days or hours, e.g. P28D, P4W, PT72H" };
};
const threshold: ExtraParam = (raw) =>
  /^\d+(\.\d+)?$/.test(raw) && Number(raw) > 0 && Number(raw) <= 100
    ? { ok: true, value: Number(raw) }
    : { ok: false, message: "must be a number above 0 and at most 100" };

const bad = (field: string, message: string) =>
  new ProblemError(400, `${field} ${message}`, { errors: [{ field, message }] });

/** The window: `from`/`to` when given; else from the oldest matching event, and to now. */
async function effectiveWindow(
  deps: QueryDeps,
  tenant: Tenant,
  filters: Filters,
): Promise<{ from: string; to: string; ms: WindowMs }> {
  const to = filters.to ?? isoMicros(deps.now());
  const from = filters.from ?? (await oldestMatching(deps.client, tenant, filters)) ?? to;
  return { from, to, ms: { from: Date.parse(from), to: Date.parse(to) } };
}

function pickInterval(given: unknown, w: WindowMs, field = "interval"): Interval {
  const i = (given as Interval | undefined) ?? defaultInterval(w.to - w.from);
  if (Math.ceil((w.to - w.from) / intervalMs(i)) > MAX_BUCKETS) {
    throw bad(field, `is too small for this window: it would make more than ${MAX_BUCKETS} buckets`);
  }
  return i;
}

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/audit/summary",
  tags: ["summary"],
  summary: "Summary statistics for dashboards and baselines",
  description:
    "Counts over the events matching every /logs filter (no limit/cursor). Without `from` the window starts at the tenant's oldest matching event. " +
    "`interval` defaults to the smallest giving at most ~200 buckets.",
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      ...filterParams,
      interval: z.enum(INTERVALS).optional(),
      top: z.coerce
        .number()
        .int()
        .min(1)
        .max(100)
        .optional()
        .openapi({ description: "Length of the top lists, 1–100, default 10." }),
    }),
  },
  responses: {
    200: { description: "The summary", content: { "application/json": { schema: SummarySchema } } },
    ...problemResponses,
  },
});

const seriesRoute = createRoute({
  method: "get",
  path: "/v1/audit/summary/series",
  tags: ["summary"],
  summary: "Per-entity time series (for anomaly-baseline jobs)",
  description:
    "For each entity (identity, path, action or source IP) with matching events: counts and failures per interval over the window, empty buckets included. " +
    "Paged over entities in key order (`limit` entities, default 100); the cursor keeps page one's window and interval.",
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      ...filterParams,
      group_by: z.enum(["identity_id", "path", "action", "source_ip"]),
      interval: z.enum(INTERVALS).optional(),
      ...pageParams,
    }),
  },
  responses: {
    200: { description: "A page of series", content: { "application/json": { schema: SeriesSchema } } },
    ...problemResponses,
  },
});

const anomaliesRoute = createRoute({
  method: "get",
  path: "/v1/audit/anomalies",
  tags: ["summary"],
  summary: "Entities whose activity departs from their own trailing baseline",
  description:
    "For each identity or path active in [from, to) or in the baseline before it (up to 1,000, busiest first): the count in the window against the counts in " +
    "each window-long slot of the baseline period that ends at `from`. Flagged when |z| ≥ threshold and the larger of observed and mean is at least " +
    "min_count; an entity with no baseline activity is reported as `new` once it reaches min_count. Every /logs filter applies to both periods.",
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      ...filterParams,
      group_by: z.enum(["identity_id", "path"]),
      baseline: z
        .string()
        .optional()
        .openapi({ description: "ISO 8601 duration before `from`, default P28D." }),
      threshold: z.coerce
        .number()
        .optional()
        .openapi({ description: "|z| at or above which an entity is reported, default 3." }),
      min_count: z.coerce
        .number()
        .int()
        .optional()
        .openapi({ description: "Ignore entities quieter than this, default 5." }),
    }),
  },
  responses: {
    200: { description: "The anomalies", content: { "application/json": { schema: AnomaliesSchema } } },
    ...problemResponses,
  },
});

interface SeriesPosition {
  key: string;
  from: string;
  to: string;
  interval: Interval;
}

export function registerSummary(app: OpenAPIHono<AppEnv>, deps: QueryDeps): void {
  const read = deps.read;
  for (const r of [summaryRoute, seriesRoute, anomaliesRoute]) app.openAPIRegistry.registerPath(r);

  app.get(summaryRoute.path, read, async (c) => {
    const q = parseQuery(new URL(c.req.url).searchParams, {
      allowed: FILTER_PARAMS,
      now: deps.now(),
      paging: false,
      extra: { interval, top: intRange(1, 100) },
    });
    const tenant = c.var.tenant;
    const w = await effectiveWindow(deps, tenant, q.filters);
    const i = pickInterval(q.extra.interval, w.ms);
    // The window bounds the counts too: events stamped after "now" must not reach total but miss the histogram.
    const s = await summarize(
      deps.client,
      tenant,
      { ...q.filters, from: w.from, to: w.to },
      {
        interval: i,
        window: w.ms,
        top: (q.extra.top as number | undefined) ?? 10,
      },
    );
    return c.json({ from: w.from, to: w.to, ...s }, 200);
  });

  app.get(seriesRoute.path, read, async (c) => {
    const groups = ["identity_id", "path", "action", "source_ip"] as const;
    const page = readPage<SeriesPosition>(c, deps, {
      allowed: FILTER_PARAMS,
      extra: { group_by: oneOf(groups), interval },
    });
    const groupBy = page.extra.group_by as GroupBy | undefined;
    if (!groupBy) throw bad("group_by", `is required: one of ${groups.join(", ")}`);
    const tenant = c.var.tenant;
    // Page one settles the window and interval; later pages reuse them from the cursor.
    const settled =
      page.after ??
      (await (async () => {
        const w = await effectiveWindow(deps, tenant, page.filters);
        return { key: "", from: w.from, to: w.to, interval: pickInterval(page.extra.interval, w.ms) };
      })());
    const window = { from: Date.parse(settled.from), to: Date.parse(settled.to) };
    const buckets = Math.max(1, Math.ceil((window.to - window.from) / intervalMs(settled.interval)));
    const result = await series(
      deps.client,
      tenant,
      { ...page.filters, from: settled.from, to: settled.to },
      {
        groupBy,
        interval: settled.interval,
        window,
        // A page is at most `limit` entities: fewer when their series are long (BUCKET_BUDGET).
        limit: Math.max(1, Math.min(page.limit, Math.floor(BUCKET_BUDGET / buckets))),
        ...(page.after ? { after: page.after.key } : {}),
      },
    );
    return c.json(
      {
        group_by: groupBy,
        from: settled.from,
        to: settled.to,
        interval: settled.interval,
        series: result.series,
        next_cursor: result.next !== undefined ? page.cursorFor({ ...settled, key: result.next }) : null,
      },
      200,
    );
  });

  app.get(anomaliesRoute.path, read, async (c) => {
    const q = parseQuery(new URL(c.req.url).searchParams, {
      allowed: FILTER_PARAMS,
      now: deps.now(),
      paging: false,
      extra: {
        group_by: oneOf(["identity_id", "path"]),
        baseline: duration,
        threshold,
        min_count: intRange(1, 1_000_000),
      },
    });
    const missing = [
      ...(q.filters.from ? [] : [{ field: "from", message: "is required" }]),
      ...(q.filters.to ? [] : [{ field: "to", message: "is required" }]),
      ...(q.extra.group_by ? [] : [{ field: "group_by", message: "is required: identity_id or path" }]),
    ];
    if (missing.length > 0)
      throw new ProblemError(400, "the query parameters are invalid", { errors: missing });
    const from = q.filters.from as string;
    const to = q.filters.to as string;
    const window = { from: Date.parse(from), to: Date.parse(to) };
    const baseline = (q.extra.baseline as string | undefined) ?? "P28D";
    const baselineMs = parseDuration(baseline) as number;
    const len = window.to - window.from;
    if (baselineMs < len) throw bad("baseline", "must be at least as long as the window");
    const slots = Math.floor(baselineMs / len);
    if (slots > MAX_BASELINE_SLOTS)
      throw bad(
        "baseline",
        `holds ${slots} window-long slots, more than ${MAX_BASELINE_SLOTS}: shorten it or widen the window`,
      );
    if (window.from - slots * len < 0)
      throw bad("baseline", "reaches before 1970: shorten it or move from later");
    const opts = {
      groupBy: q.extra.group_by as GroupBy,
      window,
      baselineMs,
      // Each entity takes one bucket per slot: fewer entities when the baseline has many slots.
      maxEntities: Math.min(1000, Math.floor(BUCKET_BUDGET / (slots + 1))),
      threshold: (q.extra.threshold as number | undefined) ?? 3,
      minCount: (q.extra.min_count as number | undefined) ?? 5,
    };
    const result = await anomalies(deps.client, c.var.tenant, q.filters, opts);
    return c.json(
      {
        from,
        to,
        group_by: opts.groupBy,
        baseline,
        threshold: opts.threshold,
        min_count: opts.minCount,
        ...result,
      },
      200,
    );
  });
}
