/**
 * The summaries' hourly rollup against a real OpenSearch: after each job run, after late events,
 * across a rollover and after a purge, GET /v1/audit/summary equals counts made here in memory from
 * the events ingested (the oracle), while the rows answer every clean whole hour.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ACTIONS } from "../../src/events/event.schema.ts";
import { ROLLUP_LEASE_ID, RollupJob, readWatermark } from "../../src/features/summary/rollup.job.ts";
import { rollupPlan } from "../../src/features/summary/summary.service.ts";
import { createLogger } from "../../src/logger.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { AUDIT_STREAM, ROLLUP_INDEX, TENANTS_INDEX } from "../../src/opensearch/names.ts";
import { markPurging } from "../../src/tenancy/retention.ts";
import { ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";

const NOW = new Date("2026-11-30T00:00:00Z");
const harness = testApp(inject("opensearchUrl"), { now: () => NOW });
const { app, client, readiness } = harness;
const log = createLogger("silent");
const tenant = newTenant("rollup");
const other = newTenant("rollup-other");
const HOUR = 3_600_000;
const START = Date.parse("2026-11-25T00:00:00Z");

interface Ev {
  id: string;
  timestamp: string;
  action: string;
  path: string;
  identity: { id: string; type: string; session_id: null };
  source_ip: string | null;
  success: boolean;
  error_code: string | null;
}

/** Deterministic events over 72 hours: varied actions, identities, paths, addresses and failures. */
function events(label: string, n: number, startMs = START, spanHours = 72): Ev[] {
  return Array.from({ length: n }, (_, i) => {
    const success = (i * 7) % 9 !== 0;
    const at = startMs + ((i * 7919) % (spanHours * 60)) * 60_000 + (i % 1000) * 1000 + 123;
    return event({
      id: `${label}-${i}`,
      timestamp: new Date(at).toISOString().replace("Z", "456Z"),
      action: ACTIONS[(i * 3) % ACTIONS.length],
      path: `prod/app-${(i * 5) % 13}/secret-${i % 3}`,
      identity:
        i % 4
          ? { id: `user:p${(i * i) % 17}@acme.example`, type: "user", session_id: null }
          : { id: `service_account:ci-${i % 5}`, type: "service_account", session_id: null },
      source_ip: i % 6 === 0 ? null : `203.0.113.${i % 23}`,
      success,
      error_code: success ? null : ["permission_denied", "not_found", "rate_limited"][i % 3],
    }) as unknown as Ev;
  });
}

const ipLast = (ip: string) => Number(ip.split(".")[3]);

/** The summary the API must give, counted here. */
function oracle(evs: Ev[], from: number, to: number, top = 10) {
  const inWindow = evs.filter((e) => Date.parse(e.timestamp) >= from && Date.parse(e.timestamp) < to);
  const count = (key: (e: Ev) => string | null, only = inWindow) => {
    const m = new Map<string, number>();
    for (const e of only) {
      const k = key(e);
      if (k !== null) m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  };
  // Ties in key order: strings by their characters, addresses (all 203.0.113.x here) by their bytes.
  const keyOrder = (a: string, b: string) =>
    a.startsWith("203.") && b.startsWith("203.") ? ipLast(a) - ipLast(b) : a < b ? -1 : 1;
  const topOf = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1] || keyOrder(a[0], b[0])).slice(0, top);
  const failures = inWindow.filter((e) => !e.success);
  const fails = count((e) => e.identity.id, failures);
  const histogram: { start: string; total: number; failures: number }[] = [];
  for (let h = Math.floor(from / HOUR) * HOUR; h < to; h += HOUR) {
    const inHour = inWindow.filter((e) => Math.floor(Date.parse(e.timestamp) / HOUR) * HOUR === h);
    histogram.push({
      start: new Date(h).toISOString().replace("Z", "000Z"),
      total: inHour.length,
      failures: inHour.filter((e) => !e.success).length,
    });
  }
  const actions = count((e) => e.action);
  return {
    total: inWindow.length,
    outcomes: { success: inWindow.length - failures.length, failure: failures.length },
    by_action: Object.fromEntries(ACTIONS.map((a) => [a, actions.get(a) ?? 0])),
    errors: Object.fromEntries(count((e) => e.error_code)),
    unique_identities: count((e) => e.identity.id).size,
    unique_paths: count((e) => e.path).size,
    top_identities: topOf(count((e) => e.identity.id)).map(([identity_id, c]) => ({
      identity_id,
      count: c,
      failures: fails.get(identity_id) ?? 0,
    })),
    top_paths: topOf(count((e) => e.path)).map(([path, c]) => ({ path, count: c })),
    top_source_ips: topOf(count((e) => e.source_ip)).map(([source_ip, c]) => ({ source_ip, count: c })),
    histogram: { interval: "1h", buckets: histogram },
  };
}

let read = "";
let stored: Ev[] = [];
/** The tests' job: one holder of the lease throughout (small pages, so paging is exercised). */
const rollup = new RollupJob({ client, log, intervalMs: 1000, pageSize: 50 });
const job = () => rollup;

/** The summary through the API, checked against the oracle; returns the rows' view of it. */
async function expectExact(from: string, to: string) {
  const res = await app.request(`/v1/audit/summary?from=${from}&to=${to}&interval=1h`, {
    headers: { Authorization: `Bearer ${read}` },
  });
  expect(res.status).toBe(200);
  const body = await json(res);
  const { by_identity_type: _t, from: _f, to: _to, ...counted } = body;
  expect(counted).toEqual(oracle(stored, Date.parse(from), Date.parse(to)));
  return rollupPlan(
    client,
    { id: tenant, since: null },
    {},
    { interval: "1h", window: { from: Date.parse(from), to: Date.parse(to) } },
  );
}

const WINDOW = ["2026-11-25T00:30:00.000000Z", "2026-11-28T00:00:00.000000Z"] as const;
const DAY = 24 * HOUR;
const KEYS = { identity_id: (e: Ev) => e.identity.id, action: (e: Ev) => e.action, path: (e: Ev) => e.path };

/** Per-entity daily series, counted here: entities in key order, a bucket per day of the window. */
function seriesOracle(evs: Ev[], groupBy: keyof typeof KEYS, from: number, to: number) {
  const inWindow = evs.filter((e) => Date.parse(e.timestamp) >= from && Date.parse(e.timestamp) < to);
  const keys = [...new Set(inWindow.map(KEYS[groupBy]))].sort();
  return keys.map((key) => {
    const mine = inWindow.filter((e) => KEYS[groupBy](e) === key);
    const buckets = [];
    for (let d = Math.floor(from / DAY) * DAY; d < to; d += DAY) {
      const inDay = mine.filter((e) => Math.floor(Date.parse(e.timestamp) / DAY) * DAY === d);
      const start = new Date(d).toISOString().replace("Z", "000Z");
      buckets.push({ start, total: inDay.length, failures: inDay.filter((e) => !e.success).length });
    }
    return { key, buckets };
  });
}

/** Every page of a daily series through the API (5 entities a page), checked against the oracle. */
async function expectSeriesExact(groupBy: keyof typeof KEYS) {
  const base = `/v1/audit/summary/series?group_by=${groupBy}&interval=1d&from=${WINDOW[0]}&to=${WINDOW[1]}&limit=5`;
  const seen: unknown[] = [];
  for (let url = base; ; ) {
    const res = await app.request(url, { headers: { Authorization: `Bearer ${read}` } });
    expect(res.status).toBe(200);
    const body = await json(res);
    seen.push(...body.series);
    if (!body.next_cursor) break;
    url = `${base}&cursor=${encodeURIComponent(body.next_cursor)}`;
  }
  expect(seen).toEqual(seriesOracle(stored, groupBy, Date.parse(WINDOW[0]), Date.parse(WINDOW[1])));
}
const allSeriesExact = async () => {
  for (const groupBy of Object.keys(KEYS) as (keyof typeof KEYS)[]) await expectSeriesExact(groupBy);
};

beforeAll(async () => {
  await readiness.runOnce(client, await loadAssets());
  // These tests own the rollup lease of the shared cluster: one left by an earlier run goes.
  await client.delete({ index: TENANTS_INDEX, id: ROLLUP_LEASE_ID }).catch(() => {});
  stored = events("a", 600);
  await ingestAs(harness, tenant, stored);
  await ingestAs(harness, other, events("b", 300));
  read = await tokenFor(tenant, "audit:read");
});
afterAll(() => client.close());

describe("summary rollup", () => {
  it("answers whole clean hours from rows, edges and newer events from the events, exactly", async () => {
    const first = await job().runOnce();
    expect(first.ran).toBe(true);
    expect(first.hours).toBeGreaterThanOrEqual(72);
    expect((await readWatermark(client))?.mark).toEqual(first.mark);
    const rows = await client.count({
      index: ROLLUP_INDEX,
      body: { query: { term: { "scaivault.tenant": tenant } } },
    });
    expect(rows.body.count).toBeGreaterThan(0);
    // The window starts mid-hour: rows from 01:00 on, the first half hour from the events.
    const view = await expectExact(...WINDOW);
    expect(view?.hours).toEqual({ lo: Date.parse("2026-11-25T01:00:00Z"), hi: Date.parse(WINDOW[1]) });
    // Days from the first whole one: 25 November is partly outside the window, read from events.
    expect(view?.days).toEqual({ lo: Date.parse("2026-11-26T00:00:00Z"), hi: Date.parse(WINDOW[1]) });
    expect(view?.dirtyHours).toEqual([]);
    // Nothing new: the next run commits nothing and recounts nothing.
    const idle = await job().runOnce();
    expect(idle).toMatchObject({ ran: true, hours: 0 });
  });

  it("answers daily series by identity and by action from rows too, exactly, on every page", async () => {
    await allSeriesExact();
    // The rows are what answers a clean whole day: one written here (and removed) shows in the series.
    const forged = { id: "forged-row", day: "2026-11-26T00:00:00.000Z" };
    await client.index({
      index: ROLLUP_INDEX,
      id: forged.id,
      refresh: true,
      body: {
        "scaivault.tenant": tenant,
        "@timestamp": forged.day,
        "scaivault.rollup.kind": "identity",
        "scaivault.rollup.count": 7,
        "user.id": "user:zz-only-in-a-row",
        "event.outcome": "failure",
      },
    });
    try {
      const res = await app.request(
        `/v1/audit/summary/series?group_by=identity_id&interval=1d&from=${WINDOW[0]}&to=${WINDOW[1]}&limit=100`,
        { headers: { Authorization: `Bearer ${read}` } },
      );
      const last = (await json(res)).series.at(-1);
      expect(last.key).toBe("user:zz-only-in-a-row");
      expect(last.buckets.map((b: { total: number; failures: number }) => [b.total, b.failures])).toEqual([
        [0, 0],
        [7, 7],
        [0, 0],
      ]);
    } finally {
      await client.delete({ index: ROLLUP_INDEX, id: forged.id, refresh: true });
    }
  });

  it("reads an hour that received a late event from the events until the job has recounted it", async () => {
    const late = events("late", 5, Date.parse("2026-11-26T10:00:00Z"), 1);
    await ingestAs(harness, tenant, late);
    stored = [...stored, ...late];
    const view = await expectExact(...WINDOW);
    expect(view?.dirtyHours).toEqual([Date.parse("2026-11-26T10:00:00Z")]);
    expect(view?.dirtyDays).toEqual([Date.parse("2026-11-26T00:00:00Z")]);
    await allSeriesExact();
    const run = await job().runOnce();
    expect(run.hours).toBeGreaterThanOrEqual(1);
    expect((await expectExact(...WINDOW))?.dirtyHours).toEqual([]);
    await allSeriesExact();
  });

  it("follows the store across a rollover: events in a newer backing index are dirty until counted", async () => {
    const before = (await readWatermark(client))?.mark;
    await client.indices.rollover({ alias: AUDIT_STREAM });
    const late = events("rolled", 4, Date.parse("2026-11-27T03:00:00Z"), 1);
    await ingestAs(harness, tenant, late);
    stored = [...stored, ...late];
    expect((await expectExact(...WINDOW))?.dirtyHours).toEqual([Date.parse("2026-11-27T03:00:00Z")]);
    await job().runOnce();
    const after = (await readWatermark(client))?.mark;
    expect(after?.gen).toBeGreaterThan(before?.gen as number);
    expect((await expectExact(...WINDOW))?.dirtyHours).toEqual([]);
  });

  it("never counts purged events from rows, even once the retention shows their hours again", async () => {
    const cut = "2026-11-25T05:30:00.000000Z";
    // What the purge does: record the cut-off, then delete what is older.
    await markPurging(client, tenant, cut);
    await client.deleteByQuery({
      index: AUDIT_STREAM,
      refresh: true,
      body: {
        query: {
          bool: {
            filter: [{ term: { "scaivault.tenant": tenant } }, { range: { "@timestamp": { lt: cut } } }],
          },
        },
      } as never,
    });
    stored = stored.filter((e) => e.timestamp >= cut);
    const view = await expectExact(...WINDOW);
    expect(view?.hours.lo).toBe(Date.parse("2026-11-25T06:00:00Z"));
    await job().runOnce();
    await expectExact(...WINDOW);
    // The rows of the purged whole hours are gone too; the hour holding the cut-off keeps its own.
    const rowsIn = async (lt: string, gte = "1970-01-01T00:00:00Z") =>
      (
        await client.count({
          index: ROLLUP_INDEX,
          body: {
            query: {
              bool: {
                filter: [{ term: { "scaivault.tenant": tenant } }, { range: { "@timestamp": { gte, lt } } }],
              },
            },
          } as never,
        })
      ).body.count;
    await allSeriesExact();
    expect(await rowsIn("2026-11-25T05:00:00Z")).toBe(0);
    expect(await rowsIn("2026-11-25T06:00:00Z", "2026-11-25T05:00:00Z")).toBeGreaterThan(0);
  });

  it("a filtered or sub-hour summary reads the events alone, and is exact too", async () => {
    const view = await rollupPlan(
      client,
      { id: tenant, since: null },
      { success: false },
      { interval: "1h", window: { from: Date.parse(WINDOW[0]), to: Date.parse(WINDOW[1]) } },
    );
    expect(view).toBeUndefined();
    const res = await app.request(
      `/v1/audit/summary?from=2026-11-26T00:00:00Z&to=2026-11-26T06:00:00Z&interval=15m`,
      { headers: { Authorization: `Bearer ${read}` } },
    );
    const body = await json(res);
    const day = stored.filter((e) => e.timestamp >= "2026-11-26T00" && e.timestamp < "2026-11-26T06");
    expect(body.total).toBe(day.length);
    expect(body.histogram.buckets).toHaveLength(24);
  });

  it("one replica at a time: of two jobs started together, one runs", async () => {
    const late = events("pair", 3, Date.parse("2026-11-27T20:00:00Z"), 1);
    await ingestAs(harness, tenant, late);
    stored = [...stored, ...late];
    // Two replicas, at a time when the lease held now has run out.
    const lease = await client.get({ index: TENANTS_INDEX, id: ROLLUP_LEASE_ID });
    const expires = Date.parse((lease.body._source as { lease: { expires_at: string } }).lease.expires_at);
    const later = () => new Date(expires + 1000);
    const replicas = [1, 2].map(() => new RollupJob({ client, log, intervalMs: 1000, now: later }));
    const runs = await Promise.all(replicas.map((r) => r.runOnce()));
    expect(runs.filter((r) => r.ran)).toHaveLength(1);
    await expectExact(...WINDOW);
  });
});
