/**
 * Per-tenant retention against a real OpenSearch: the setting, and its cut-off on every read path.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Purger } from "../../src/features/retention/retention.purge.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { createLogger } from "../../src/logger.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { AUDIT_STREAM, TENANTS_INDEX } from "../../src/opensearch/names.ts";
import { capturedLogger, ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";

const harness = testApp(inject("opensearchUrl"));
const { app, client, readiness } = harness;
const tenant = newTenant("ret");
const other = newTenant("ret-other");
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString().replace("Z", "000Z");
/** One event at each age, all on one path and identity so every trail sees all of them. */
const AGES = [1, 10, 40, 400, 2000];
const fixture = AGES.map((d) =>
  event({
    id: `age-${d}`,
    timestamp: ago(d),
    path: "prod/db/password",
    identity: { id: "user:ana", type: "user", session_id: null },
  }),
);
let read = "";
let admin = "";

beforeAll(async () => {
  await readiness.runOnce(client, await loadAssets());
  await ingestAs(harness, tenant, fixture);
  await ingestAs(harness, other, fixture);
  read = await tokenFor(tenant, "audit:read");
  admin = await tokenFor(tenant, "audit:admin");
});
afterAll(() => client.close());

const get = (path: string, t = read) => app.request(path, { headers: { Authorization: `Bearer ${t}` } });
const put = (body: unknown, t = admin) =>
  app.request("/v1/audit/retention", {
    method: "PUT",
    headers: { Authorization: `Bearer ${t}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });

/** Event ids each read path returns for the tenant (all of them on this fixture). */
async function visible(t = read): Promise<Record<string, string[] | number>> {
  const ids = async (path: string, key = "entries") =>
    ((await json(await get(path, t)))[key] as { id: string }[]).map((e) => e.id).sort();
  const summary = await json(await get("/v1/audit/summary?from=2000-01-01T00:00:00Z", t));
  const paths = await json(await get("/v1/audit/identities/user:ana/paths", t));
  const series = await json(
    await get("/v1/audit/summary/series?group_by=identity_id&from=2000-01-01T00:00:00Z&interval=1M", t),
  );
  const anomalies = await json(
    await get("/v1/audit/anomalies?from=now-60d&to=now&group_by=identity_id&baseline=P120D&min_count=1", t),
  );
  return {
    anomaly_observed:
      anomalies.anomalies.find((a: { key: string; observed: number }) => a.key === "user:ana")?.observed ?? 0,
    logs: await ids("/v1/audit/logs?limit=100"),
    secret: await ids("/v1/audit/secrets/prod/db/password"),
    identity: await ids("/v1/audit/identities/user:ana"),
    summary_total: summary.total,
    paths_total: paths.paths
      .flatMap((p: { actions: Record<string, number> }) => Object.values(p.actions))
      .reduce((n: number, c: number) => n + c, 0),
    series_total: series.series
      .flatMap((e: { buckets: { total: number }[] }) => e.buckets)
      .reduce((n: number, b: { total: number }) => n + b.total, 0),
  };
}
const expectVisible = async (ages: number[], t = read) => {
  const ids = ages.map((d) => `age-${d}`).sort();
  expect(await visible(t)).toEqual({
    anomaly_observed: ages.filter((d) => d < 60).length, // the anomaly window is the last 60 days
    logs: ids,
    secret: ids,
    identity: ids,
    summary_total: ids.length,
    paths_total: ids.length,
    series_total: ids.length,
  });
};

describe("retention", () => {
  it("defaults to 2557 days (7 years) and describes the cluster", async () => {
    const res = await get("/v1/audit/retention");
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      retention_days: 2557,
      cold_after_days: 90,
      cold_tier: false,
      updated_at: null,
      last_purge: null,
    });
    await expectVisible([1, 10, 40, 400, 2000]);
  });

  it("a shorter retention hides older events at once on every read path; other tenants keep theirs", async () => {
    const res = await put({ retention_days: 30 });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ retention_days: 30, updated_at: expect.any(String) });
    expect((await json(await get("/v1/audit/retention"))).retention_days).toBe(30);
    await expectVisible([1, 10]);
    await expectVisible([1, 10, 40, 400, 2000], await tokenFor(other, "audit:read"));
  });

  it("raising it again shows what is inside the new window", async () => {
    expect((await put({ retention_days: 365 })).status).toBe(200);
    await expectVisible([1, 10, 40]);
    expect((await put({ retention_days: 3650 })).status).toBe(200);
    await expectVisible([1, 10, 40, 400, 2000]);
  });

  it("only audit:admin may change it, to a whole number of days from 1 to 3650", async () => {
    expect((await put({ retention_days: 10 }, read)).status).toBe(403);
    for (const bad of [0, 3651, 1.5, "30", null]) {
      const res = await put({ retention_days: bad });
      expect(res.status).toBe(400);
      expect((await json(res)).errors[0].field).toBe("retention_days");
    }
    const extra = await put({ retention_days: 10, cold_tier: true });
    expect(extra.status).toBe(400);
    expect((await json(await get("/v1/audit/retention"))).retention_days).toBe(3650);
  });

  it("the purge deletes what a retention hides, for that tenant only; one replica per period", async () => {
    const stored = async (t: string) =>
      (await client.count({ index: AUDIT_STREAM, body: { query: { term: { "scaivault.tenant": t } } } })).body
        .count;
    expect((await put({ retention_days: 30 })).status).toBe(200);
    // Another replica held the lease last period and it has expired: free for this one.
    await client.delete({ index: TENANTS_INDEX, id: "purge-lease", refresh: true }).catch(() => {});
    const purger = (intervalMs: number) =>
      new Purger({ client, log: createLogger("silent"), intervalMs, requestsPerSecond: -1 });
    const first = await purger(60_000).runOnce();
    expect(first.ran).toBe(true);
    expect(first.tenants.find((d) => d.tenant === tenant)).toMatchObject({
      deleted: 3,
      remaining: 0,
      succeeded: true,
    });
    expect(await stored(tenant)).toBe(2);
    expect(await stored(other)).toBe(AGES.length);
    // The same period on another replica: the lease says it is done.
    expect((await purger(60_000).runOnce()).ran).toBe(false);

    // Raising the retention keeps everything still stored; what was purged is not promised back.
    expect((await put({ retention_days: 3650 })).status).toBe(200);
    await expectVisible([1, 10]);
    expect(await stored(tenant)).toBe(2);
    // A compliance officer sees that it was enforced.
    expect((await json(await get("/v1/audit/retention"))).last_purge).toMatchObject({
      expired: 3,
      deleted: 3,
      remaining: 0,
      succeeded: true,
      failures: [],
      ran_at: expect.any(String),
      cutoff: expect.any(String),
    });
  });

  it("a write-blocked index (ISM's force-merge without read_write) is reported by every channel, never 0 deleted", async () => {
    const blocked = newTenant("ret-blocked");
    await ingestAs(
      harness,
      blocked,
      [10, 40, 400].map((d) => event({ id: `b-${d}`, timestamp: ago(d) })),
    );
    const token = await tokenFor(blocked, "audit:admin audit:read");
    await app.request("/v1/audit/retention", {
      method: "PUT",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ retention_days: 30 }),
    });
    // The events' index stops being the write index, then gets the block force_merge leaves.
    const where = await client.search({
      index: AUDIT_STREAM,
      body: { query: { term: { "scaivault.tenant": blocked } }, size: 1 } as never,
    });
    const index = where.body.hits.hits[0]?._index as string;
    await client.indices.rollover({ alias: AUDIT_STREAM });
    await client.indices.putSettings({ index, body: { "index.blocks.write": true } as never });
    const metrics = createMetrics();
    const { log, lines } = capturedLogger();
    const purge = async () => {
      await client.delete({ index: TENANTS_INDEX, id: "purge-lease", refresh: true }).catch(() => {});
      const r = await new Purger({
        client,
        log,
        intervalMs: 60_000,
        requestsPerSecond: -1,
        purged: metrics.purged,
        failures: metrics.purgeFailures,
      }).runOnce();
      return r.tenants.find((t) => t.tenant === blocked);
    };
    try {
      const failed = await purge();
      expect(failed).toMatchObject({ expired: 2, remaining: 2, succeeded: false });
      expect(failed?.failures.map((f) => f.kind)).toEqual(
        expect.arrayContaining(["document_failures", "remaining"]),
      );
      expect(JSON.stringify(failed?.failures)).toContain("cluster_block_exception");
      expect(await metrics.registry.metrics()).toMatch(
        /audit_retention_purge_failures_total\{kind="remaining"\} [1-9]/,
      );
      expect(lines.some((l) => l.includes('"level":50') && l.includes(blocked))).toBe(true);
      const seen = (
        await json(
          await app.request("/v1/audit/retention", { headers: { Authorization: `Bearer ${token}` } }),
        )
      ).last_purge;
      expect(seen).toMatchObject({ succeeded: false, expired: 2, remaining: 2 });
    } finally {
      // What the fixed policy's read_write does after the merge; the next period then succeeds.
      await client.indices.putSettings({ index, body: { "index.blocks.write": false } as never });
    }
    expect(await purge()).toMatchObject({ expired: 2, deleted: 2, remaining: 0, succeeded: true });
  });
});
