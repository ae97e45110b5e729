import type { Client } from "@opensearch-project/opensearch";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { Purger } from "../../src/features/retention/retention.purge.ts";
import { customRetentions, expiredFor, tenantsPage } from "../../src/features/retention/retention.query.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../../src/tenancy/retention.ts";
import { scoped } from "../../src/tenancy/tenant-scope.ts";
import { capturedLogger, SERVICE_ENV } from "../support/app.ts";

const NOW = new Date("2026-11-26T14:30:00.000Z");

describe("retention", () => {
  it("cuts off at now minus the retention, to the microsecond", () => {
    expect(cutoff(30, NOW)).toBe("2026-10-27T14:30:00.000000Z");
    expect(cutoff(DEFAULT_RETENTION_DAYS, NOW)).toBe("2019-11-26T14:30:00.000000Z");
  });

  it("reads hide exactly what the purge deletes", () => {
    const since = cutoff(30, NOW);
    const read = scoped({ id: "acme", since }, []) as { bool: { filter: unknown[] } };
    const purge = expiredFor("acme", since) as { query: { bool: { filter: unknown[] } } };
    expect(read.bool.filter).toEqual([
      { term: { "scaivault.tenant": "acme" } },
      { range: { "@timestamp": { gte: since, format: "strict_date_optional_time_nanos" } } },
    ]);
    expect(purge.query.bool.filter).toEqual([
      { term: { "scaivault.tenant": "acme" } },
      { range: { "@timestamp": { lt: since, format: "strict_date_optional_time_nanos" } } },
    ]);
  });

  it("lists every tenant with events, a page at a time", () => {
    expect(tenantsPage(2, "acme")).toMatchObject({
      size: 0,
      aggs: {
        tenants: {
          composite: {
            size: 2,
            sources: [{ tenant: { terms: { field: "scaivault.tenant" } } }],
            after: { tenant: "acme" },
          },
        },
      },
    });
    expect(customRetentions).toMatchObject({ query: { exists: { field: "retention_days" } } });
  });

  it("purge settings are validated", () => {
    expect(loadConfig(SERVICE_ENV, "/tmp").retention).toEqual({
      purge: true,
      purgeIntervalMs: 3_600_000,
      purgeRequestsPerSecond: 2000,
    });
    expect(() => loadConfig({ ...SERVICE_ENV, RETENTION_PURGE_RPS: "0" }, "/tmp")).toThrow(
      /RETENTION_PURGE_RPS/,
    );
    expect(
      loadConfig({ ...SERVICE_ENV, RETENTION_PURGE_RPS: "-1" }, "/tmp").retention.purgeRequestsPerSecond,
    ).toBe(-1);
  });
});

/**
 * The purge's accounting, against a stand-in client that answers as OpenSearch does in each
 * failure (the integration test puts a real write block on a real index).
 */
describe("a purge cannot fail silently", () => {
  type Step = "ok" | "blocked" | "conflicts" | "task_error" | "never_done";
  function cluster(step: Step, expiredBefore = 5) {
    let counts = 0;
    const written: unknown[] = [];
    const cancelled: string[] = [];
    const client = {
      get: () => Promise.reject({ meta: { statusCode: 404 } }),
      index: () => Promise.resolve({ body: {} }),
      search: (p: { index: string }) =>
        Promise.resolve({
          body:
            p.index === "scaivault-tenants"
              ? { hits: { hits: [] } }
              : { aggregations: { tenants: { buckets: [{ key: { tenant: "acme" } }] } } },
        }),
      count: () =>
        Promise.resolve({ body: { count: counts++ === 0 ? expiredBefore : step === "ok" ? 0 : 3 } }),
      deleteByQuery: () => Promise.resolve({ body: { task: "n:1" } }),
      tasks: {
        get: () => {
          if (step === "never_done") return Promise.reject({ meta: { statusCode: 504 } });
          if (step === "task_error")
            return Promise.resolve({
              body: {
                completed: true,
                error: { type: "search_phase_execution_exception", reason: "all shards failed" },
              },
            });
          const response =
            step === "blocked"
              ? {
                  deleted: 2,
                  failures: [
                    {
                      index: ".ds-audit-events-000001",
                      cause: {
                        type: "cluster_block_exception",
                        reason:
                          "index [.ds-audit-events-000001] blocked by: [FORBIDDEN/8/index write (api)];",
                      },
                    },
                  ],
                }
              : step === "conflicts"
                ? { deleted: 2, version_conflicts: 3 }
                : { deleted: 5 };
          return Promise.resolve({ body: { completed: true, response } });
        },
        cancel: (p: { task_id: string }) => {
          cancelled.push(p.task_id);
          return Promise.resolve({ body: {} });
        },
      },
      bulk: (p: { body: string }) => {
        written.push(
          ...p.body
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l)),
        );
        return Promise.resolve({ body: { errors: false } });
      },
    };
    return { client: client as unknown as Client, written, cancelled };
  }
  const run = async (step: Step, intervalMs = 60_000) => {
    const c = cluster(step);
    const metrics = createMetrics();
    const { log, lines } = capturedLogger();
    const result = await new Purger({
      client: c.client,
      log,
      intervalMs,
      requestsPerSecond: -1,
      purged: metrics.purged,
      failures: metrics.purgeFailures,
    }).runOnce();
    const text = await metrics.registry.metrics();
    return { ...c, result, lines, text };
  };

  it("succeeds when everything expired is gone, and records it", async () => {
    const { result, written, text, lines } = await run("ok");
    expect(result.tenants).toEqual([
      expect.objectContaining({
        tenant: "acme",
        expired: 5,
        deleted: 5,
        remaining: 0,
        succeeded: true,
        failures: [],
      }),
    ]);
    expect(written[1]).toMatchObject({
      scaivault: { tenant: "acme" },
      last_purge: { succeeded: true, deleted: 5 },
    });
    expect(text).toMatch(/audit_retention_purged_events_total 5/);
    expect(text).not.toMatch(/audit_retention_purge_failures_total\{/);
    expect(lines.some((l) => l.includes('"level":50'))).toBe(false);
  });

  it.each([
    ["blocked", ["document_failures", "remaining"], /cluster_block_exception/],
    ["conflicts", ["version_conflicts", "remaining"], /3 version conflicts/],
    ["task_error", ["task_error", "remaining"], /all shards failed/],
  ] as const)(
    "%s: a failure in the result, the log, the metrics and the stored outcome",
    async (step, kinds, detail) => {
      const { result, written, text, lines } = await run(step);
      const t = result.tenants[0];
      expect(t?.succeeded).toBe(false);
      expect(t?.remaining).toBe(3);
      expect(t?.failures.map((f) => f.kind)).toEqual(kinds);
      expect(JSON.stringify(t?.failures)).toMatch(detail);
      for (const k of kinds)
        expect(text).toMatch(new RegExp(`audit_retention_purge_failures_total\\{kind="${k}"\\} 1`));
      expect(lines.some((l) => l.includes('"level":50') && l.includes("acme"))).toBe(true);
      expect(written[1]).toMatchObject({ last_purge: { succeeded: false, remaining: 3 } });
    },
  );

  it("a task still running at the end of the period is cancelled and reported", async () => {
    const { result, cancelled } = await run("never_done", 50);
    expect(result.tenants[0]?.failures.map((f) => f.kind)).toEqual(["timeout", "remaining"]);
    expect(cancelled).toEqual(["n:1"]);
  });
});
