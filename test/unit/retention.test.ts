import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import {
  customRetentions,
  expiredFor,
  expiredForDefault,
} from "../../src/features/retention/retention.query.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../../src/features/retention/retention.service.ts";
import { scoped } from "../../src/opensearch/tenant-scope.ts";

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

  it("purges tenants on the default together, leaving out those with their own retention", () => {
    const body = expiredForDefault("2019-11-26T14:30:00.000000Z", ["acme", "globex"]) as any;
    expect(body.query.bool.must_not).toEqual([{ terms: { "scaivault.tenant": ["acme", "globex"] } }]);
    expect(expiredForDefault("x", []) as any).not.toHaveProperty("query.bool.must_not");
    expect(customRetentions).toMatchObject({ query: { exists: { field: "retention_days" } } });
  });

  it("purge settings are validated", () => {
    expect(loadConfig({}, "/tmp").retention).toEqual({
      purge: true,
      purgeIntervalMs: 3_600_000,
      purgeRequestsPerSecond: 2000,
    });
    expect(() => loadConfig({ RETENTION_PURGE_RPS: "0" }, "/tmp")).toThrow(/RETENTION_PURGE_RPS/);
    expect(loadConfig({ RETENTION_PURGE_RPS: "-1" }, "/tmp").retention.purgeRequestsPerSecond).toBe(-1);
  });
});
