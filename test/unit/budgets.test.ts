import { describe, expect, it } from "vitest";
import { type BudgetSettings, Budgets, type Decision } from "../../src/http/budgets.ts";
import { DEAD_OPENSEARCH, json, testApp, tokenFor } from "../support/app.ts";

const SETTINGS: BudgetSettings = {
  tenantPerSecond: 10,
  tenantBurst: 20,
  subjectPerSecond: 5,
  subjectBurst: 10,
  tenantConcurrency: 6,
  totalConcurrency: 12,
  refusalDelayMs: 0,
};

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const refusal = (d: Decision) => (d.admitted ? undefined : d.refusal);

describe("budgets: rate", () => {
  it("a subject spends its burst, is refused with the wait until its cost refills, and refills with time", () => {
    const c = clock();
    const b = new Budgets(SETTINGS, c.now);
    for (let i = 0; i < 10; i++) {
      const d = b.admit("acme", "ana", 1, false);
      expect(d.admitted).toBe(true);
      expect(d.standing.subject.remaining).toBe(9 - i);
    }
    const refused = b.admit("acme", "ana", 3, false);
    expect(refusal(refused)).toBe("subject_rate");
    expect(refused.admitted ? 0 : refused.retryAfterSeconds).toBe(1); // 3 units at 5/s
    c.advance(400); // 2 units back
    expect(refusal(b.admit("acme", "ana", 3, false))).toBe("subject_rate");
    c.advance(200); // 3 units
    expect(b.admit("acme", "ana", 3, false).admitted).toBe(true);
  });

  it("callers of one tenant share its bucket; another tenant is untouched", () => {
    const c = clock();
    const b = new Budgets(SETTINGS, c.now);
    for (const who of ["ana", "bo"]) for (let i = 0; i < 10; i++) b.admit("acme", who, 1, false);
    // The tenant's 20 are spent, though a third caller has spent nothing.
    const d = b.admit("acme", "cy", 1, false);
    expect(refusal(d)).toBe("tenant_rate");
    expect(d.admitted ? 0 : d.retryAfterSeconds).toBe(1);
    expect(b.admit("globex", "ana", 1, false).admitted).toBe(true);
  });

  it("weighs requests by cost; one dearer than a whole bucket still runs on a full one", () => {
    const c = clock();
    const b = new Budgets(SETTINGS, c.now);
    expect(b.admit("acme", "ana", 50, false).admitted).toBe(true); // takes both buckets whole
    const d = b.admit("acme", "ana", 1, false);
    expect(refusal(d)).toBe("tenant_rate");
    c.advance(2_000); // both are whole again (20 at 10/s, 10 at 5/s)
    expect(b.admit("acme", "ana", 10, false).admitted).toBe(true);
  });

  it("reports what is left and when it is whole again", () => {
    const c = clock();
    const b = new Budgets(SETTINGS, c.now);
    const d = b.admit("acme", "ana", 4, false);
    expect(d.standing.tenant).toEqual({ remaining: 16, resetSeconds: 1 });
    expect(d.standing.subject).toEqual({ remaining: 6, resetSeconds: 1 });
    c.advance(500);
    const e = b.admit("acme", "ana", 1, false);
    expect(e.standing.subject).toEqual({ remaining: 7, resetSeconds: 1 }); // 6 + 2.5 − 1 = 7.5
  });
});

describe("budgets: concurrency", () => {
  it("caps the cost a tenant has in flight; releasing frees it, once", () => {
    const b = new Budgets({ ...SETTINGS, subjectBurst: 100, tenantBurst: 100 }, clock().now);
    const first = b.admit("acme", "ana", 4);
    expect(first.admitted).toBe(true);
    expect(refusal(b.admit("acme", "ana", 3))).toBe("tenant_concurrency");
    const second = b.admit("acme", "ana", 2);
    expect(second.admitted).toBe(true);
    if (!first.admitted || !second.admitted) throw new Error("unreachable");
    first.release();
    first.release(); // a second release changes nothing
    expect(b.admit("acme", "ana", 5).admitted).toBe(false); // 2 + 5 > 6
    expect(b.admit("acme", "ana", 4).admitted).toBe(true); // 2 + 4
  });

  it("runs a request dearer than the whole allowance when the tenant has nothing in flight", () => {
    const b = new Budgets({ ...SETTINGS, subjectBurst: 100, tenantBurst: 100 }, clock().now);
    const big = b.admit("acme", "ana", 16);
    expect(big.admitted).toBe(true);
    expect(refusal(b.admit("acme", "ana", 1))).toBe("tenant_concurrency");
  });

  it("when the replica is full, a tenant below its fair share gets in and the one above it does not", () => {
    const s = {
      ...SETTINGS,
      subjectBurst: 100,
      tenantBurst: 100,
      tenantConcurrency: 12,
      totalConcurrency: 12,
    };
    const b = new Budgets(s, clock().now);
    for (let i = 0; i < 10; i++) expect(b.admit("noisy", `n${i}`, 1).admitted).toBe(true);
    expect(b.admit("quiet", "q", 2).admitted).toBe(true); // 12 of 12 now
    expect(b.admit("quiet", "q", 1).admitted).toBe(true); // quiet holds 2 < 12 / 2: still its share
    expect(refusal(b.admit("noisy", "n0", 1))).toBe("replica_concurrency"); // noisy holds 10 ≥ 6
  });

  it("a live tail (not held) uses the rate budget but no concurrency", () => {
    const b = new Budgets({ ...SETTINGS, subjectBurst: 100, tenantBurst: 100 }, clock().now);
    for (let i = 0; i < 20; i++) expect(b.admit("acme", "ana", 1, false).admitted).toBe(true);
    expect(b.admit("acme", "ana", 6).admitted).toBe(true);
  });
});

describe("budgets through the app", () => {
  it("429 problem+json with Retry-After and the RateLimit headers; another tenant is not refused", async () => {
    const { app, metrics } = testApp(DEAD_OPENSEARCH, {
      budgets: {
        ...SETTINGS,
        tenantBurst: 3,
        subjectBurst: 3,
        tenantPerSecond: 1,
        subjectPerSecond: 1,
        refusalDelayMs: 300,
      },
    });
    const as = async (tenant: string, path: string) =>
      app.request(path, { headers: { Authorization: `Bearer ${await tokenFor(tenant, "audit:read")}` } });
    // A 1,000-row page costs 11: more than the bucket, so it takes all of it.
    expect((await as("acme", "/v1/audit/logs?limit=1000")).status).toBe(503); // admitted; the store is down
    const began = Date.now();
    const refused = await as("acme", "/v1/audit/logs?limit=5");
    expect(refused.status).toBe(429);
    // Held before it is sent: a client that retries at once still waits.
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit-policy")).toBe(
      '"tenant";q=3;w=3, "subject";q=3;w=3, "tenant-concurrency";q=6;qu="concurrency"',
    );
    expect(refused.headers.get("ratelimit")).toMatch(/^"tenant";r=0;t=3, "subject";r=0;t=3, /);
    expect((await json(refused)).detail).toMatch(/rate/);
    expect((await as("globex", "/v1/audit/logs?limit=5")).status).toBe(503);
    expect(await metrics.registry.getSingleMetricAsString("audit_requests_limited_total")).toMatch(
      /limit="tenant_rate"\} 1/,
    );
  });
});
