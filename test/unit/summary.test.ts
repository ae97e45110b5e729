import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ACTIONS } from "../../src/events/event.schema.ts";
import { defaultInterval, histogramInterval } from "../../src/features/summary/intervals.ts";
import {
  anomaliesSearch,
  parseSeries,
  parseSummary,
  scoreAnomalies,
  seriesSearch,
  summarySearch,
} from "../../src/features/summary/summary.query.ts";
import { parseDuration } from "../../src/features/summary/summary.route.ts";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { queryFixture } from "../support/fixture.ts";

const T = { id: "t", since: null };

/** Responses recorded from OpenSearch 3.8 for the query fixture (tenant "rec") and a small baseline set. */
const recorded = (name: string) =>
  JSON.parse(readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", name), "utf8"));
const fixture = queryFixture();

describe("intervals", () => {
  it.each([
    [10 * 60_000, "1m"],
    [200 * 60_000, "1m"],
    [201 * 60_000, "5m"],
    [24 * 3_600_000, "15m"],
    [7 * 86_400_000, "1h"],
    [90 * 86_400_000, "12h"],
    [365 * 86_400_000, "1w"],
    [7 * 365 * 86_400_000, "1M"],
    [0, "1m"],
  ])("a window of %d ms defaults to %s", (ms, expected) => {
    expect(defaultInterval(ms)).toBe(expected);
  });

  it("uses fixed intervals up to a day and calendar ones for weeks and months", () => {
    expect(histogramInterval("1d")).toEqual({ fixed_interval: "1d" });
    expect(histogramInterval("1w")).toEqual({ calendar_interval: "1w" });
    expect(histogramInterval("1M")).toEqual({ calendar_interval: "1M" });
  });

  it.each([
    ["P28D", 28 * 86_400_000],
    ["P4W", 28 * 86_400_000],
    ["PT72H", 72 * 3_600_000],
    ["P1Y", undefined],
    ["28d", undefined],
  ])("duration %s is %s ms", (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });
});

describe("summary builders", () => {
  it("covers the window with empty buckets and counts failures per bucket", () => {
    const body = summarySearch(
      T,
      {},
      { interval: "1h", window: { from: 1000, to: 7_201_000 }, top: 5 },
    ) as any;
    // Over events alone: document counts (weights would cost ~60 % more there).
    expect(body.aggs.totals.filter).toEqual({ match_all: {} });
    expect(body.aggs.totals.aggs.n).toBeUndefined();
    expect(body.aggs.hours.aggs.histogram.date_histogram).toEqual({
      field: "@timestamp",
      fixed_interval: "1h",
      min_doc_count: 0,
      extended_bounds: { min: 1000, max: 7_200_999 },
    });
    expect(body.aggs.hours.aggs.histogram.aggs).toEqual({
      failures: { filter: { term: { "event.outcome": "failure" } }, aggs: {} },
    });
    expect(body.aggs.totals.aggs.by_action.terms.size).toBe(ACTIONS.length);
    expect(body.aggs.identities.aggs.top.terms).toMatchObject({ field: "user.id", size: 5 });
  });

  it("with rollup rows, counts what each document stands for and takes each kind's part", () => {
    const plan = {
      hours: { lo: 3_600_000, hi: 90 * 3_600_000 },
      days: { lo: 86_400_000, hi: 3 * 86_400_000 },
      dirtyHours: [50 * 3_600_000],
      dirtyDays: [2 * 86_400_000],
    };
    const body = summarySearch(
      T,
      {},
      { interval: "1h", window: { from: 1000, to: 4 * 86_400_000 }, top: 5 },
      plan,
    ) as any;
    const n = { sum: { field: "scaivault.rollup.count", missing: 1 } };
    expect(body.aggs.totals.aggs.n).toEqual(n);
    expect(body.aggs.identities.aggs.top.terms.order).toEqual({ n: "desc" });
    expect(body.aggs.hours.aggs.histogram.aggs.failures.aggs.n).toEqual(n);
    expect(JSON.stringify(body.aggs.totals.filter)).toContain('"totals"');
    expect(JSON.stringify(body.aggs.hours.filter)).toContain('"hourly"');
    // Tenant and cut-off first, as every read; then the split between events and rows.
    expect(body.query.bool.filter.at(-1).bool.should).toHaveLength(3);
  });

  it("a daily series by identity or action reads its own kind of row; by path or address, events", () => {
    const plan = {
      hours: { lo: 3_600_000, hi: 90 * 3_600_000 },
      days: { lo: 86_400_000, hi: 3 * 86_400_000 },
      dirtyHours: [],
      dirtyDays: [],
    };
    const opts = { interval: "1d", window: { from: 1000, to: 4 * 86_400_000 }, limit: 10 } as const;
    const n = { sum: { field: "scaivault.rollup.count", missing: 1 } };
    for (const [groupBy, kind] of [
      ["identity_id", "identity"],
      ["action", "totals"],
    ] as const) {
      const body = seriesSearch(T, {}, { ...opts, groupBy }, plan) as any;
      const split = JSON.stringify(body.query.bool.filter.at(-1));
      expect(split).toContain(`"terms":{"scaivault.rollup.kind":["${kind}"]}`);
      expect(split).not.toContain("hourly");
      const histogram = body.aggs.entities.aggs.histogram;
      expect(histogram.aggs.n).toEqual(n);
      expect(histogram.aggs.failures.aggs.n).toEqual(n);
    }
    for (const groupBy of ["path", "source_ip"] as const) {
      const withPlan = seriesSearch(T, {}, { ...opts, groupBy }, plan);
      expect(withPlan).toEqual(seriesSearch(T, {}, { ...opts, groupBy }));
      expect(JSON.stringify(withPlan)).not.toContain("scaivault.rollup");
    }
  });

  it("slices the baseline into window-long slots that end where the window starts", () => {
    const day = 86_400_000;
    const from = Date.UTC(2026, 10, 26, 6); // 06:00, not midnight: slots must still line up with it
    const body = anomaliesSearch(
      T,
      { actions: ["read"], from: "x", to: "y" },
      {
        groupBy: "path",
        window: { from, to: from + day },
        baselineMs: 7 * day,
        maxEntities: 50,
      },
    ) as any;
    const slots = body.aggs.entities.aggs.baseline.aggs.slots.date_histogram;
    expect(slots.fixed_interval).toBe(`${day}ms`);
    expect(slots.extended_bounds).toEqual({ min: from - 7 * day, max: from - 1 });
    expect((from - 7 * day - Number.parseInt(slots.offset, 10)) % day).toBe(0);
    // from/to of the filters are replaced by the baseline + window range; other filters stay.
    expect(JSON.stringify(body.query)).not.toContain('"x"');
    expect(body.query.bool.filter).toContainEqual({ terms: { "event.action": ["read"] } });
  });
});

describe("parsers on recorded responses", () => {
  it("parseSummary fills every action and identity type, and keeps counts exact", () => {
    const s = parseSummary(recorded("summary-response.json"), "1h");
    expect(s.total).toBe(fixture.length);
    expect(Object.keys(s.by_action)).toEqual([...ACTIONS]);
    expect(Object.values(s.by_action).reduce((a, b) => a + b, 0)).toBe(fixture.length);
    expect(s.by_action.read).toBe(fixture.filter((e) => e.action === "read").length);
    expect(s.by_action.delete).toBe(0);
    expect(s.outcomes.failure).toBe(fixture.filter((e) => !e.success).length);
    expect(s.by_identity_type).toEqual({
      user: fixture.filter((e) => e.identity.type === "user").length,
      service_account: fixture.filter((e) => e.identity.type === "service_account").length,
      group: fixture.filter((e) => e.identity.type === "group").length,
    });
    expect(s.top_identities).toHaveLength(3);
    expect(s.histogram.buckets.map((b) => b.start)).toEqual([
      "2026-11-26T14:00:00.000000Z",
      "2026-11-26T15:00:00.000000Z",
      "2026-11-26T16:00:00.000000Z",
    ]);
    expect(s.histogram.buckets.reduce((a, b) => a + b.total, 0)).toBe(s.total);
  });

  it("scoreAnomalies: mean and deviation over the slots, new entities flagged, threshold applied", () => {
    const body = recorded("anomalies-response.json");
    const { anomalies, evaluated } = scoreAnomalies(body, { threshold: 2, minCount: 5 });
    expect(evaluated).toBe(2);
    // ana: 3 or 4 events a day for 7 days (mean 25/7), 9 in the window.
    const mean = 25 / 7;
    const sd = Math.sqrt([4, 3, 4, 3, 4, 3, 4].reduce((s, x) => s + (x - mean) ** 2, 0) / 7);
    const z = (9 - mean) / Math.max(sd, Math.sqrt(mean), 1);
    expect(anomalies).toEqual([
      { key: "user:new@acme.example", observed: 6, baseline: null, score: null, reason: "new" },
      {
        key: "user:ana@acme.example",
        observed: 9,
        baseline: { mean: Math.round(mean * 1000) / 1000, stddev: Math.round(sd * 1000) / 1000, slots: 7 },
        score: Math.round(z * 1000) / 1000,
        reason: "spike",
      },
    ]);
    expect(scoreAnomalies(body, { threshold: z + 0.01, minCount: 5 }).anomalies.map((a) => a.key)).toEqual([
      "user:new@acme.example",
    ]);
    expect(scoreAnomalies(body, { threshold: 2, minCount: 10 }).anomalies).toEqual([]);
  });

  it("parseSeries pages by key and reports where to continue", () => {
    const h = { buckets: [{ key: 0, doc_count: 2, failures: { doc_count: 1 } }] };
    const body = {
      aggregations: {
        entities: { buckets: ["a", "b", "c"].map((k) => ({ key: { key: k }, histogram: h })) },
      },
    };
    expect(parseSeries(body, 2)).toEqual({
      series: [
        { key: "a", buckets: [{ start: "1970-01-01T00:00:00.000000Z", total: 2, failures: 1 }] },
        { key: "b", buckets: [{ start: "1970-01-01T00:00:00.000000Z", total: 2, failures: 1 }] },
      ],
      next: "b",
    });
    expect(parseSeries(body, 3).next).toBeUndefined();
    // Where rows were read, a bucket's count is the weighted sum (a double), not the document count.
    const weighted = {
      key: 0,
      doc_count: 3,
      n: { value: 41.0 },
      failures: { doc_count: 1, n: { value: 9.0 } },
    };
    const rows = {
      aggregations: { entities: { buckets: [{ key: { key: "a" }, histogram: { buckets: [weighted] } }] } },
    };
    expect(parseSeries(rows, 5).series[0]?.buckets[0]).toMatchObject({ total: 41, failures: 9 });
  });
});
