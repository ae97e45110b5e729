/**
 * @module features/summary
 * GET /v1/audit/summary, /v1/audit/summary/series and /v1/audit/anomalies (audit:read).
 */
import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import type { Context } from "hono";
import { invalidField } from "../../errors.ts";
import { isoMicros } from "../../events/time.ts";
import { type Filters, filterQuery, type RawFilters, resolve, text } from "../../filters/filters.ts";
import { type Gate, windowCost } from "../../http/admission.ts";
import type { Cursors } from "../../http/cursor.ts";
import type { AppEnv } from "../../http/env.ts";
import { readPage } from "../../http/paging.ts";
import { secured } from "../../http/route.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { defaultInterval, INTERVALS, type Interval, intervalMs, isInterval } from "./intervals.ts";
import type { GroupBy, WindowMs } from "./summary.query.ts";
import { AnomaliesSchema, SeriesSchema, SummarySchema } from "./summary.schema.ts";
import { anomalies, oldestMatching, series, summarize } from "./summary.service.ts";

export interface SummaryDeps {
  client: Client;
  gate: Gate;
  /** The caller's tenant with its retention cut-off (resolved per request). */
  tenant: (c: Context<AppEnv>) => Promise<Tenant>;
  cursors: Cursors;
  now: () => Date;
}

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

const interval = () =>
  text()
    .refine(isInterval, `must be one of ${INTERVALS.join(", ")}`)
    .transform((s) => s as Interval)
    .optional()
    .openapi({ type: "string", enum: [...INTERVALS] });

const wholeNumber = (min: number, max: number, description: string) =>
  text()
    .refine(
      (s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max,
      `must be a whole number from ${min} to ${max}`,
    )
    .transform(Number)
    .optional()
    .openapi({ type: "integer", minimum: min, maximum: max, description });

const oneOf = <const V extends readonly string[]>(values: V) =>
  text()
    .refine((s) => values.includes(s), `must be one of ${values.join(", ")}`)
    .transform((s) => s as V[number])
    .openapi({ type: "string", enum: [...values] });

/** ISO 8601 durations in days, weeks or hours: P28D, P4W, PT72H. */
/** A JSON number literal without a sign (JSON Schema's `number` as a query string carries it). */
const NUMBER = /^(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

export function parseDuration(raw: string): number | undefined {
  const m = /^P(?:(\d+)W|(\d+)D|T(\d+)H)$/.exec(raw);
  if (!m) return undefined;
  const [, w, d, h] = m;
  return w ? Number(w) * 604_800_000 : d ? Number(d) * 86_400_000 : Number(h) * 3_600_000;
}

const SERIES_GROUPS = ["identity_id", "path", "action", "source_ip"] as const;
const ANOMALY_GROUPS = ["identity_id", "path"] as const;

/** The window: `from`/`to` when given; else from the oldest matching event, and to now. */
async function effectiveWindow(
  deps: SummaryDeps,
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
    throw invalidField(field, `is too small for this window: it would make more than ${MAX_BUCKETS} buckets`);
  }
  return i;
}

export function registerSummary(app: OpenAPIHono<AppEnv>, deps: SummaryDeps): void {
  const summaryRoute = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/summary",
      operationId: "getSummary",
      tags: ["summary"],
      summary: "Summary statistics for dashboards and baselines",
      description:
        "Counts over the events matching every /logs filter (no limit/cursor). Without `from` the window starts at the tenant's oldest matching event. " +
        "`interval` defaults to the smallest giving at most ~200 buckets.",
      request: {
        query: filterQuery({
          now: deps.now,
          extra: {
            interval: interval(),
            top: wholeNumber(1, 100, "Length of the top lists, 1–100, default 10."),
          },
        }),
      },
      responses: {
        200: { description: "The summary", content: { "application/json": { schema: SummarySchema } } },
      },
    },
    { cost: windowCost(deps.now), deadline: "aggregation" },
  );

  const seriesRoute = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/summary/series",
      operationId: "listSeries",
      tags: ["summary"],
      summary: "Per-entity time series (for anomaly-baseline jobs)",
      description:
        "For each entity (identity, path, action or source IP) with matching events: counts and failures per interval over the window, empty buckets included. " +
        "Paged over entities in key order (`limit` entities, default 100; fewer when each series is long: one request makes at most 50,000 buckets); the cursor keeps page one's window and interval.",
      request: {
        query: filterQuery({
          now: deps.now,
          paging: { issued: (s) => deps.cursors.issued(s) },
          extra: { group_by: oneOf(SERIES_GROUPS), interval: interval() },
        }),
      },
      responses: {
        200: { description: "A page of series", content: { "application/json": { schema: SeriesSchema } } },
      },
    },
    { cost: windowCost(deps.now), deadline: "aggregation" },
  );

  const anomaliesRoute = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/anomalies",
      operationId: "listAnomalies",
      tags: ["summary"],
      summary: "Entities whose activity departs from their own trailing baseline",
      description:
        "For each identity or path active in [from, to) or in the baseline before it (up to 1,000, busiest first; fewer when the baseline has many slots): the count in the window against the counts in " +
        "each window-long slot of the baseline period that ends at `from`. Flagged when |z| ≥ threshold and the larger of observed and mean is at least " +
        "min_count; an entity with no baseline activity is reported as `new` once it reaches min_count. Every /logs filter applies to both periods.",
      request: {
        query: filterQuery({
          now: deps.now,
          required: ["from", "to"],
          extra: {
            group_by: oneOf(ANOMALY_GROUPS),
            baseline: text()
              .refine(
                (s) => (parseDuration(s) ?? 0) > 0,
                "must be a positive ISO 8601 duration in weeks, days or hours, e.g. P28D, P4W, PT72H",
              )
              .optional()
              .openapi({
                type: "string",
                pattern: "^P([1-9]\\d*W|[1-9]\\d*D|T[1-9]\\d*H)$",
                description:
                  "How far back the baseline reaches before `from` (at least the window's length; at most 1,000 window-long slots), default P28D.",
              }),
            threshold: text()
              .refine(
                // Any JSON number literal (`3`, `2.5`, `1e1`), as the document's `type: number` allows.
                (s) => NUMBER.test(s) && Number(s) > 0 && Number(s) <= 100,
                "must be a number above 0 and at most 100",
              )
              .transform(Number)
              .optional()
              .openapi({
                type: "number",
                exclusiveMinimum: 0,
                maximum: 100,
                description: "|z| at or above which an entity is reported, default 3.",
              }),
            min_count: wholeNumber(1, 1_000_000, "Ignore entities quieter than this, default 5."),
          },
        }),
      },
      responses: {
        200: { description: "The anomalies", content: { "application/json": { schema: AnomaliesSchema } } },
      },
    },
    { cost: windowCost(deps.now), deadline: "aggregation" },
  );

  app.openapi(summaryRoute, async (c) => {
    const q = c.req.valid("query") as RawFilters & { interval?: Interval; top?: number };
    const { filters } = resolve(q, deps.now());
    const tenant = await deps.tenant(c);
    const w = await effectiveWindow(deps, tenant, filters);
    const i = pickInterval(q.interval, w.ms);
    // The window bounds the counts too: events stamped after "now" must not reach total but miss the histogram.
    const s = await summarize(
      deps.client,
      tenant,
      { ...filters, from: w.from, to: w.to },
      { interval: i, window: w.ms, top: q.top ?? 10 },
    );
    // by_action and by_identity_type are built over every action and type (summary.query).
    return c.json({ from: w.from, to: w.to, ...s } as z.infer<typeof SummarySchema>, 200);
  });

  app.openapi(seriesRoute, async (c) => {
    const q = c.req.valid("query") as RawFilters & {
      group_by: GroupBy;
      interval?: Interval;
      limit?: number;
      cursor?: string;
    };
    const page = readPage<SeriesPosition>(c, deps.cursors, deps.now(), q, {
      extra: { group_by: q.group_by, interval: q.interval },
    });
    const tenant = await deps.tenant(c);
    // Page one settles the window and interval; later pages reuse them from the cursor.
    const settled =
      page.after ??
      (await (async () => {
        const w = await effectiveWindow(deps, tenant, page.filters);
        return { key: "", from: w.from, to: w.to, interval: pickInterval(q.interval, w.ms) };
      })());
    const window = { from: Date.parse(settled.from), to: Date.parse(settled.to) };
    const buckets = Math.max(1, Math.ceil((window.to - window.from) / intervalMs(settled.interval)));
    const result = await series(
      deps.client,
      tenant,
      { ...page.filters, from: settled.from, to: settled.to },
      {
        groupBy: q.group_by,
        interval: settled.interval,
        window,
        // A page is at most `limit` entities: fewer when their series are long (BUCKET_BUDGET).
        limit: Math.max(1, Math.min(page.limit, Math.floor(BUCKET_BUDGET / buckets))),
        ...(page.after ? { after: page.after.key } : {}),
      },
    );
    return c.json(
      {
        group_by: q.group_by,
        from: settled.from,
        to: settled.to,
        interval: settled.interval,
        series: result.series,
        next_cursor: result.next !== undefined ? page.cursorFor({ ...settled, key: result.next }) : null,
      },
      200,
    );
  });

  app.openapi(anomaliesRoute, async (c) => {
    const q = c.req.valid("query") as RawFilters & {
      group_by: (typeof ANOMALY_GROUPS)[number];
      baseline?: string;
      threshold?: number;
      min_count?: number;
    };
    const { filters } = resolve(q, deps.now());
    const from = filters.from as string;
    const to = filters.to as string;
    const window = { from: Date.parse(from), to: Date.parse(to) };
    const baseline = q.baseline ?? "P28D";
    const baselineMs = parseDuration(baseline) as number;
    const len = window.to - window.from;
    if (baselineMs < len) throw invalidField("baseline", "must be at least as long as the window");
    const slots = Math.floor(baselineMs / len);
    if (slots > MAX_BASELINE_SLOTS)
      throw invalidField(
        "baseline",
        `holds ${slots} window-long slots, more than ${MAX_BASELINE_SLOTS}: shorten it or widen the window`,
      );
    if (window.from - slots * len < 0)
      throw invalidField("baseline", "reaches before 1970: shorten it or move from later");
    const opts = {
      groupBy: q.group_by,
      window,
      baselineMs,
      // Each entity takes one bucket per slot: fewer entities when the baseline has many slots.
      maxEntities: Math.min(1000, Math.floor(BUCKET_BUDGET / (slots + 1))),
      threshold: q.threshold ?? 3,
      minCount: q.min_count ?? 5,
    };
    const result = await anomalies(deps.client, await deps.tenant(c), filters, opts);
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

interface SeriesPosition {
  key: string;
  from: string;
  to: string;
  interval: Interval;
}
