/**
 * @module features/summary/query
 * PURE builders and parsers for summaries, per-entity series and anomaly baselines. Builders wrap
 * their clauses with `scoped` (tenant first); parsers turn OpenSearch responses into API shapes.
 */
import { ACTIONS, IDENTITY_TYPES } from "../../events/event.schema.ts";
import { isoMicros } from "../../events/time.ts";
import { filterClauses } from "../../filters/filters.query.ts";
import type { Filters } from "../../filters/filters.ts";
import { type Clause, scoped, type Tenant } from "../../tenancy/tenant-scope.ts";
import { histogramInterval, type Interval } from "./intervals.ts";
import { countedBy, type RollupPlan, type RowKind, splitClause, WEIGHT } from "./rollup.query.ts";

const FAILURE = { term: { "event.outcome": "failure" } };

export const GROUP_FIELDS = {
  identity_id: "user.id",
  path: "scaivault.path",
  action: "event.action",
  source_ip: "source.ip",
} as const;
export type GroupBy = keyof typeof GROUP_FIELDS;

/** A window in epoch milliseconds: [from, to). */
export interface WindowMs {
  from: number;
  to: number;
}

/**
 * The daily rows a series by each entity can read (rollup.query): theirs carry the entity and the
 * outcome. Paths' and addresses' rows have no outcome, so their series read the events.
 */
export const SERIES_ROWS: Partial<Record<GroupBy, RowKind>> = { identity_id: "identity", action: "totals" };

/** date_histogram over exactly the window, empty buckets included, with failures per bucket. */
function histogram(interval: Interval, w: WindowMs, weighted = false): Clause {
  const n = weighted ? { n: WEIGHT } : {};
  return {
    date_histogram: {
      field: "@timestamp",
      ...histogramInterval(interval),
      min_doc_count: 0,
      // Buckets from the one holding `from` to the one holding the last instant before `to`.
      ...(w.to > w.from ? { extended_bounds: { min: w.from, max: w.to - 1 } } : {}),
    },
    aggs: { ...n, failures: { filter: FAILURE, aggs: n } },
  };
}

/** The oldest matching event: where a summary without `from` starts. */
export function oldestSearch(tenant: Tenant, f: Filters): Clause {
  return {
    query: scoped(tenant, filterClauses(f)),
    size: 1,
    sort: [{ "@timestamp": { order: "asc" } }],
    _source: ["@timestamp"],
    track_total_hits: false,
  };
}

/**
 * The summary. Without `plan`, over the window's events, counting documents; with one, over events
 * and the rollup's rows together (see rollup.query), every count a sum of what each document stands
 * for. The parser reads either.
 */
export function summarySearch(
  tenant: Tenant,
  f: Filters,
  opts: { interval: Interval; window: WindowMs; top: number },
  plan?: RollupPlan,
): Clause {
  // Weights cost ~60 % more on events alone (10M, 90 days): only where rows are read.
  const n = plan ? { n: WEIGHT } : {};
  const by = plan ? { order: { n: "desc" } } : {};
  const of = (kind: RowKind) => (plan ? countedBy(kind, plan) : { match_all: {} });
  const failures = { failures: { filter: FAILURE, aggs: n } };
  const terms = (field: string, size: number, shardSize = size) => ({
    terms: { field, size, shard_size: shardSize, ...by },
    aggs: n,
  });
  // shard_size well above `top` keeps the top lists accurate across backing indices.
  const top = (field: string) => terms(field, opts.top, Math.max(100, opts.top * 20));
  return {
    query: scoped(tenant, [...filterClauses(f), ...(plan ? [splitClause(plan)] : [])]),
    size: 0,
    track_total_hits: false,
    aggs: {
      totals: {
        filter: of("totals"),
        aggs: {
          ...n,
          outcomes: terms("event.outcome", 2),
          by_action: terms("event.action", ACTIONS.length),
          by_identity_type: terms("scaivault.identity.type", IDENTITY_TYPES.length),
          errors: terms("error.code", 1000),
        },
      },
      hours: {
        filter: of("hourly"),
        aggs: { histogram: histogram(opts.interval, opts.window, plan !== undefined) },
      },
      identities: {
        filter: of("identity"),
        aggs: {
          unique: { cardinality: { field: "user.id" } },
          top: { ...top("user.id"), aggs: { ...n, ...failures } },
        },
      },
      paths: {
        filter: of("path"),
        aggs: { unique: { cardinality: { field: "scaivault.path" } }, top: top("scaivault.path") },
      },
      sources: { filter: of("source"), aggs: { top: top("source.ip") } },
    },
  };
}

/**
 * Per-entity series, one page of entities (composite, in key order) with a histogram each. With
 * `plan` (intervals of whole days, entities with SERIES_ROWS), clean whole days come from daily rows.
 */
export function seriesSearch(
  tenant: Tenant,
  f: Filters,
  opts: { groupBy: GroupBy; interval: Interval; window: WindowMs; limit: number; after?: string },
  plan?: RollupPlan,
): Clause {
  const kind = SERIES_ROWS[opts.groupBy];
  const rows = plan && kind ? [splitClause(plan, [kind])] : [];
  return {
    query: scoped(tenant, [...filterClauses(f), ...rows]),
    size: 0,
    track_total_hits: false,
    aggs: {
      entities: {
        composite: {
          size: opts.limit + 1,
          sources: [{ key: { terms: { field: GROUP_FIELDS[opts.groupBy], order: "asc" } } }],
          ...(opts.after !== undefined ? { after: { key: opts.after } } : {}),
        },
        aggs: { histogram: histogram(opts.interval, opts.window, rows.length > 0) },
      },
    },
  };
}

/**
 * Anomalies: for each entity active in the window, its count in the window and its counts in
 * each window-long slot of the trailing baseline (slots end exactly where the window starts).
 */
export function anomaliesSearch(
  tenant: Tenant,
  f: Filters,
  opts: { groupBy: GroupBy; window: WindowMs; baselineMs: number; maxEntities: number },
): Clause {
  const { from, to } = opts.window;
  const len = to - from;
  const baselineFrom = from - Math.floor(opts.baselineMs / len) * len;
  const range = (gte: number, lt: number) => ({
    range: { "@timestamp": { gte, lt, format: "epoch_millis" } },
  });
  const { from: _f, to: _t, ...rest } = f;
  return {
    query: scoped(tenant, [...filterClauses(rest), range(baselineFrom, to)]),
    size: 0,
    track_total_hits: false,
    aggs: {
      entities: {
        // Entities active in the window, busiest first.
        terms: {
          field: GROUP_FIELDS[opts.groupBy],
          size: opts.maxEntities,
          shard_size: opts.maxEntities * 2,
          order: { window: "desc" },
        },
        aggs: {
          window: { filter: range(from, to) },
          baseline: {
            filter: range(baselineFrom, from),
            aggs: {
              slots: {
                date_histogram: {
                  field: "@timestamp",
                  fixed_interval: `${len}ms`,
                  offset: `${((baselineFrom % len) + len) % len}ms`,
                  min_doc_count: 0,
                  extended_bounds: { min: baselineFrom, max: from - 1 },
                },
              },
            },
          },
        },
      },
    },
  };
}

// ---------------------------------------------------------------- parsers

/** A count: the weighted sum where rows were read, else the document count. */
interface Counted {
  doc_count: number;
  n?: { value: number };
}
// Sums come back as doubles; every one is a whole count.
const count = (c: Counted | undefined) => (c ? Math.round(c.n?.value ?? c.doc_count) : 0);

interface HistogramAgg {
  buckets: (Counted & { key: number; failures: Counted })[];
}

export interface HistogramBucket {
  start: string;
  total: number;
  failures: number;
}

const bucketsOf = (h: HistogramAgg): HistogramBucket[] =>
  h.buckets.map((b) => ({
    start: isoMicros(new Date(b.key)),
    total: count(b),
    failures: count(b.failures),
  }));
interface CountedTerms {
  buckets: (Counted & { key: string; failures?: Counted })[];
}

export function parseSummary(body: { aggregations: Record<string, unknown> }, interval: Interval) {
  const a = body.aggregations as {
    totals: Counted & {
      outcomes: CountedTerms;
      by_action: CountedTerms;
      by_identity_type: CountedTerms;
      errors: CountedTerms;
    };
    hours: { histogram: HistogramAgg };
    identities: { unique: { value: number }; top: CountedTerms };
    paths: { unique: { value: number }; top: CountedTerms };
    sources: { top: CountedTerms };
  };
  const counts = (t: CountedTerms) => Object.fromEntries(t.buckets.map((b) => [b.key, count(b)]));
  const outcomes = counts(a.totals.outcomes);
  const byAction = counts(a.totals.by_action);
  const byType = counts(a.totals.by_identity_type);
  return {
    total: count(a.totals),
    outcomes: { success: outcomes.success ?? 0, failure: outcomes.failure ?? 0 },
    by_action: Object.fromEntries(ACTIONS.map((x) => [x, byAction[x] ?? 0])),
    by_identity_type: Object.fromEntries(IDENTITY_TYPES.map((x) => [x, byType[x] ?? 0])),
    unique_identities: a.identities.unique.value,
    unique_paths: a.paths.unique.value,
    top_identities: a.identities.top.buckets.map((b) => ({
      identity_id: b.key,
      count: count(b),
      failures: count(b.failures),
    })),
    top_paths: a.paths.top.buckets.map((b) => ({ path: b.key, count: count(b) })),
    top_source_ips: a.sources.top.buckets.map((b) => ({ source_ip: b.key, count: count(b) })),
    errors: counts(a.totals.errors),
    histogram: { interval, buckets: bucketsOf(a.hours.histogram) },
  };
}

export function parseSeries(body: { aggregations: Record<string, unknown> }, limit: number) {
  const agg = body.aggregations.entities as { buckets: { key: { key: string }; histogram: HistogramAgg }[] };
  const page = agg.buckets.slice(0, limit);
  return {
    series: page.map((b) => ({ key: b.key.key, buckets: bucketsOf(b.histogram) })),
    next: agg.buckets.length > limit ? page.at(-1)?.key.key : undefined,
  };
}

export interface Anomaly {
  key: string;
  observed: number;
  baseline: { mean: number; stddev: number; slots: number } | null;
  score: number | null;
  reason: "spike" | "drop" | "new";
}

/**
 * Scores each entity: z = (observed − mean) / max(stddev, √mean, 1). The floor keeps a perfectly
 * steady history (stddev 0) from turning one extra event into an infinite score; √mean is the
 * spread of a Poisson count with that mean. An entity with no events in the baseline is `new`.
 */
export function scoreAnomalies(
  body: { aggregations: Record<string, unknown> },
  opts: { threshold: number; minCount: number },
): { anomalies: Anomaly[]; evaluated: number } {
  const agg = body.aggregations.entities as {
    buckets: {
      key: string;
      window: { doc_count: number };
      baseline: { doc_count: number; slots: { buckets: { doc_count: number }[] } };
    }[];
  };
  const anomalies: Anomaly[] = [];
  let evaluated = 0;
  for (const b of agg.buckets) {
    const observed = b.window.doc_count;
    const slots = b.baseline.slots.buckets.map((s) => s.doc_count);
    if (observed === 0 && b.baseline.doc_count === 0) continue;
    evaluated++;
    if (b.baseline.doc_count === 0) {
      if (observed >= opts.minCount)
        anomalies.push({ key: b.key, observed, baseline: null, score: null, reason: "new" });
      continue;
    }
    const mean = slots.reduce((s, x) => s + x, 0) / slots.length;
    const stddev = Math.sqrt(slots.reduce((s, x) => s + (x - mean) ** 2, 0) / slots.length);
    const score = (observed - mean) / Math.max(stddev, Math.sqrt(mean), 1);
    if (Math.abs(score) >= opts.threshold && Math.max(observed, mean) >= opts.minCount) {
      anomalies.push({
        key: b.key,
        observed,
        baseline: { mean: round(mean), stddev: round(stddev), slots: slots.length },
        score: round(score),
        reason: score > 0 ? "spike" : "drop",
      });
    }
  }
  anomalies.sort(
    (x, y) => Math.abs(y.score ?? Number.POSITIVE_INFINITY) - Math.abs(x.score ?? Number.POSITIVE_INFINITY),
  );
  return { anomalies, evaluated };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
