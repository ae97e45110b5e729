import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ACTIONS } from "../../src/events/event.schema.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";
import { type Fixture, queryFixture } from "../support/fixture.ts";

const NOW = new Date("2026-11-27T00:00:00Z");
const harness = testApp(inject("opensearchUrl"), { now: () => NOW });
const { app, client, readiness } = harness;
const tenant = newTenant("summary");
const fixture = queryFixture();
let token = "";

const ingest = (t: string, events: unknown[]) => ingestAs(harness, t, events);

beforeAll(async () => {
  await readiness.runOnce(client, await loadAssets());
  await ingest(tenant, fixture);
  token = await tokenFor(tenant, "audit:read");
});
afterAll(() => client.close());

const get = async (path: string, t = token) => {
  const res = await app.request(path, { headers: { Authorization: `Bearer ${t}` } });
  return { status: res.status, body: await json(res) };
};
const countBy = (events: Fixture[], key: (e: Fixture) => string | null) => {
  const out: Record<string, number> = {};
  for (const e of events) {
    const k = key(e);
    if (k !== null) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};

describe("GET /v1/audit/summary", () => {
  it("counts every field exactly over the whole history, window starting at the oldest event", async () => {
    const { status, body } = await get("/v1/audit/summary?interval=1h");
    expect(status).toBe(200);
    expect(body.from).toBe(fixture.map((e) => e.timestamp).sort()[0]);
    expect(body.to).toBe("2026-11-27T00:00:00.000000Z");
    expect(body.total).toBe(fixture.length);
    expect(body.outcomes).toEqual({
      success: fixture.filter((e) => e.success).length,
      failure: fixture.filter((e) => !e.success).length,
    });
    const actions = countBy(fixture, (e) => e.action);
    expect(body.by_action).toEqual(Object.fromEntries(ACTIONS.map((a) => [a, actions[a] ?? 0])));
    const types = countBy(fixture, (e) => e.identity.type);
    expect(body.by_identity_type).toEqual({
      user: types.user ?? 0,
      service_account: types.service_account ?? 0,
      group: types.group ?? 0,
    });
    expect(body.errors).toEqual(countBy(fixture, (e) => e.error_code));
    expect(body.unique_identities).toBe(new Set(fixture.map((e) => e.identity.id)).size);
    expect(body.unique_paths).toBe(new Set(fixture.map((e) => e.path)).size);

    const byIdentity = countBy(fixture, (e) => e.identity.id);
    const topId = Object.entries(byIdentity).sort((a, b) => b[1] - a[1])[0] as [string, number];
    expect(body.top_identities[0]).toEqual({
      identity_id: topId[0],
      count: topId[1],
      failures: fixture.filter((e) => e.identity.id === topId[0] && !e.success).length,
    });
    expect(body.top_paths).toHaveLength(Math.min(10, new Set(fixture.map((e) => e.path)).size));
    expect(body.top_source_ips.reduce((s: number, x: { count: number }) => s + x.count, 0)).toBe(
      fixture.length,
    );

    // Hourly buckets from the oldest event's hour to the last hour before `to`, empty ones included.
    const buckets = body.histogram.buckets as { start: string; total: number; failures: number }[];
    expect(body.histogram.interval).toBe("1h");
    expect(buckets[0]?.start).toBe("2026-11-26T14:00:00.000000Z");
    expect(buckets.at(-1)?.start).toBe("2026-11-26T23:00:00.000000Z");
    expect(buckets).toHaveLength(10);
    expect(buckets.reduce((s, b) => s + b.total, 0)).toBe(body.total);
    expect(buckets.reduce((s, b) => s + b.failures, 0)).toBe(body.outcomes.failure);
    expect(buckets.filter((b) => b.total === 0).length).toBeGreaterThan(0);
  });

  it("applies the /logs filters and a window, choosing a default interval of at most ~200 buckets", async () => {
    const { body } = await get(
      "/v1/audit/summary?action=read&success=false&from=2026-11-26T14:00:00Z&to=2026-11-26T15:00:00Z&top=2",
    );
    const matching = fixture.filter(
      (e) => e.action === "read" && !e.success && e.timestamp < "2026-11-26T15:00:00.000000Z",
    );
    expect(body.total).toBe(matching.length);
    expect(body.from).toBe("2026-11-26T14:00:00.000000Z");
    expect(body.histogram.interval).toBe("1m"); // 60 buckets
    expect(body.histogram.buckets).toHaveLength(60);
    expect(body.top_identities.length).toBeLessThanOrEqual(2);
  });

  it("answers an empty window with zeros, and bad parameters with a 400 naming them", async () => {
    const empty = await get("/v1/audit/summary?from=2020-01-01T00:00:00Z&to=2020-01-01T01:00:00Z");
    expect(empty.body.total).toBe(0);
    expect(empty.body.by_action.read).toBe(0);
    expect(empty.body.histogram.buckets.every((b: { total: number }) => b.total === 0)).toBe(true);
    const badReq = await get("/v1/audit/summary?interval=2h&top=0&limit=5");
    expect(badReq.status).toBe(400);
    expect(badReq.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      "interval",
      "limit",
      "top",
    ]);
    const tooFine = await get("/v1/audit/summary?interval=1m&from=2020-01-01T00:00:00Z");
    expect(tooFine.status).toBe(400);
    expect(tooFine.body.errors[0].field).toBe("interval");
  });

  it("counts only inside the effective window, so the histogram always sums to the total", async () => {
    const t = newTenant("future");
    await ingest(t, [
      event({ id: "past", timestamp: "2026-11-26T10:00:00Z" }),
      event({ id: "future", timestamp: "2026-11-28T10:00:00Z" }), // after "now" (the test clock)
    ]);
    const { body } = await get("/v1/audit/summary", await tokenFor(t, "audit:read"));
    expect(body.to).toBe("2026-11-27T00:00:00.000000Z");
    expect(body.total).toBe(1);
    expect(body.histogram.buckets.reduce((s: number, b: { total: number }) => s + b.total, 0)).toBe(1);
  });

  it("shows another tenant nothing", async () => {
    const { body } = await get("/v1/audit/summary", await tokenFor(newTenant("other"), "audit:read"));
    expect(body.total).toBe(0);
    expect(body.top_identities).toEqual([]);
  });
});

describe("GET /v1/audit/summary/series", () => {
  it("walks every entity's series exactly once across pages, each summing to its count", async () => {
    const seen: { key: string; buckets: { total: number; failures: number }[] }[] = [];
    let url =
      "/v1/audit/summary/series?group_by=path&interval=1h&from=2026-11-26T14:00:00Z&to=2026-11-27T00:00:00Z&limit=2";
    for (;;) {
      const { status, body } = await get(url);
      expect(status).toBe(200);
      expect(body.interval).toBe("1h");
      seen.push(...body.series);
      if (!body.next_cursor) break;
      url = `/v1/audit/summary/series?group_by=path&interval=1h&from=2026-11-26T14:00:00Z&to=2026-11-27T00:00:00Z&limit=2&cursor=${encodeURIComponent(body.next_cursor)}`;
    }
    const byPath = countBy(fixture, (e) => e.path);
    expect(seen.map((s) => s.key)).toEqual(Object.keys(byPath).sort());
    for (const s of seen) {
      expect(s.buckets).toHaveLength(10);
      expect(s.buckets.reduce((t, b) => t + b.total, 0)).toBe(byPath[s.key]);
    }
  });

  it("requires group_by and refuses a cursor with another group_by", async () => {
    expect((await get("/v1/audit/summary/series")).body.errors[0].field).toBe("group_by");
    const first = await get("/v1/audit/summary/series?group_by=action&limit=1");
    const other = await get(
      `/v1/audit/summary/series?group_by=path&limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`,
    );
    expect(other.status).toBe(400);
    expect(other.body.errors[0].field).toBe("cursor");
  });
});

describe("GET /v1/audit/anomalies", () => {
  it("reports an identity that bursts against its own baseline, and not a steady one", async () => {
    const t = newTenant("anomaly");
    const events: unknown[] = [];
    // 28 days of history: both identities do 10 reads a day, at varying hours.
    for (let day = 1; day <= 28; day++) {
      for (let n = 0; n < 10; n++) {
        const ts = new Date(Date.UTC(2026, 10, 26) - day * 86_400_000 + (n * 2 + (day % 3)) * 3_600_000);
        for (const who of ["user:steady@acme.example", "user:burst@acme.example"]) {
          const slug = who.slice(5, who.indexOf("@"));
          events.push(
            event({
              id: `${slug}-${day}-${n}`,
              timestamp: ts.toISOString(),
              identity: { id: who, type: "user" },
            }),
          );
        }
      }
    }
    // The window (one day): steady does its usual 10, burst does 80; a newcomer appears with 12.
    for (let n = 0; n < 80; n++) {
      const ts = new Date(Date.UTC(2026, 10, 26) + n * 60_000).toISOString();
      events.push(
        event({ id: `b-${n}`, timestamp: ts, identity: { id: "user:burst@acme.example", type: "user" } }),
      );
      if (n < 10)
        events.push(
          event({ id: `s-${n}`, timestamp: ts, identity: { id: "user:steady@acme.example", type: "user" } }),
        );
      if (n < 12)
        events.push(
          event({ id: `n-${n}`, timestamp: ts, identity: { id: "user:new@acme.example", type: "user" } }),
        );
    }
    await ingest(t, events);
    const reader = await tokenFor(t, "audit:read");
    const { status, body } = await get(
      "/v1/audit/anomalies?from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z&group_by=identity_id&baseline=P28D",
      reader,
    );
    expect(status).toBe(200);
    expect(body.evaluated).toBe(3);
    const byKey = Object.fromEntries(body.anomalies.map((a: { key: string }) => [a.key, a]));
    expect(byKey["user:burst@acme.example"]).toMatchObject({
      observed: 80,
      baseline: { mean: 10, stddev: 0, slots: 28 },
      reason: "spike",
    });
    expect(byKey["user:burst@acme.example"].score).toBeCloseTo((80 - 10) / Math.sqrt(10), 2);
    expect(byKey["user:new@acme.example"]).toMatchObject({
      observed: 12,
      baseline: null,
      score: null,
      reason: "new",
    });
    expect(byKey["user:steady@acme.example"]).toBeUndefined();
  });

  it("needs from, to and group_by, and a baseline at least as long as the window", async () => {
    const r = await get("/v1/audit/anomalies");
    expect(r.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(["from", "group_by", "to"]);
    const short = await get(
      "/v1/audit/anomalies?from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z&group_by=path&baseline=P7D",
    );
    expect(short.body.errors[0].field).toBe("baseline");
  });
});
