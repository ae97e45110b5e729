/**
 * Tenant isolation by construction: every query builder of every feature, run with sample
 * arguments, starts its filter with the tenant and then the tenant's retention cut-off (export
 * job lists are not audit events, so they carry no cut-off).
 */
import { describe, expect, it } from "vitest";
import { EXPORT_BUILDERS } from "../../src/features/exports/exports.query.ts";
import { BUILDERS } from "../../src/features/query/query.query.ts";
import { STREAM_BUILDERS } from "../../src/features/stream/stream.query.ts";
import { SUMMARY_BUILDERS } from "../../src/features/summary/summary.query.ts";
import type { Clause, Tenant } from "../../src/tenancy/tenant-scope.ts";

const CUTOFF = "2019-11-26T00:00:00.000000Z";

describe.each<[string, Record<string, (tenant: Tenant) => Clause>, number]>([
  ["query", BUILDERS, 2],
  ["summary", SUMMARY_BUILDERS, 1],
  ["export", EXPORT_BUILDERS, 1],
  ["live-tail", STREAM_BUILDERS, 1],
])("%s builders", (_feature, builders, atLeast) => {
  it("every builder puts the tenant filter first, then the retention cut-off", () => {
    expect(Object.keys(builders).length).toBeGreaterThanOrEqual(atLeast);
    for (const [name, build] of Object.entries(builders)) {
      const body = build({ id: "tenant-x", since: CUTOFF }) as { query: { bool: { filter: unknown[] } } };
      expect(body.query.bool.filter[0], name).toEqual({ term: { "scaivault.tenant": "tenant-x" } });
      if (name !== "jobsList")
        expect(body.query.bool.filter[1], name).toEqual({
          range: { "@timestamp": { gte: CUTOFF, format: "strict_date_optional_time_nanos" } },
        });
    }
  });
});
