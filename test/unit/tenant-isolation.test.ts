/**
 * Tenant isolation by construction: every export of every feature's `*.query.ts` is found here
 * (no hand-kept list in the source), and each must be either a builder with sample arguments —
 * run, and checked to put the tenant filter first and then the tenant's retention cut-off — or
 * named below as something else, with the reason. A new builder nobody classified fails the test.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import type { Clause, Tenant } from "../../src/tenancy/tenant-scope.ts";

const CUTOFF = "2019-11-26T00:00:00.000000Z";
type Samples = (t: Tenant) => unknown[];

/** Builders of one tenant's reads, with sample arguments. */
const TENANT_BUILDERS: Record<string, Samples> = {
  "query/eventsSearch": (t) => [
    t,
    { actions: ["read"], pathPrefix: "prod" },
    { limit: 10, after: ["2026-11-26T14:30:05.123456Z", "x"] },
  ],
  "query/pathsSearch": (t) => [t, { identityId: "user:x" }, { limit: 10, after: "prod/a" }],
  "summary/oldestSearch": (t) => [t, {}],
  "summary/summarySearch": (t) => [
    t,
    { actions: ["read"] },
    { interval: "1h", window: { from: 0, to: 3_600_000 }, top: 10 },
  ],
  "summary/seriesSearch": (t) => [
    t,
    {},
    { groupBy: "identity_id", interval: "1h", window: { from: 0, to: 3_600_000 }, limit: 10, after: "x" },
  ],
  "summary/anomaliesSearch": (t) => [
    t,
    { success: false },
    {
      groupBy: "path",
      window: { from: 86_400_000, to: 172_800_000 },
      baselineMs: 86_400_000,
      maxEntities: 10,
    },
  ],
  "exports/snapshotCount": (t) => [t, { actions: ["read"] }, { id: "pit", keepAlive: "1m" }],
  "exports/snapshotPage": (t) => [
    t,
    { pathPrefix: "prod" },
    { pitId: "pit", keepAlive: "1m", size: 10, after: null },
  ],
  "stream/catchUpSearch": (t) => [t, { actions: ["read"] }, { from: 0, to: 9 }, 100],
  "delivery/lagCount": (t) => [t, { actions: ["read"] }, { from: 0, to: 9 }, null],
  "delivery/oldestPending": (t) => [t, {}, { from: 0, to: 9 }, "2026-01-01T00:00:00.000000Z"],
  "integrity/eventSearch": (t) => [t, "evt-1"],
  "summary/dirtyHoursSearch": (t) => [
    t,
    { lo: 0, hi: 3_600_000 },
    { stream: "audit-events", mark: { gen: 2, seq: [10] } },
    500,
  ],
};

/** Builders over one tenant's own documents that are not audit events: no retention cut-off. */
const TENANT_DOCUMENTS: Record<string, Samples> = {
  "exports/jobsList": (t) => [t.id, { limit: 10, status: "running" }],
  "integrity/leafSearch": (t) => [t, "evt-1"],
  "delivery/destinationsList": (t) => [t.id, 100],
  // A destination passes over events past the cut-off without sending them, and counts them
  // (skipped_by_retention): read with the tenant filter, then checked in memory by inScope.
  "delivery/pendingEvents": (t) => [t, { pathPrefix: "prod" }, { from: 0, to: 9 }, 100, null],
  "integrity/latestCheckpointSearch": (t) => [t],
  // Verifications check every stored event against its leaf, also one past the cut-off the purge
  // has not reached yet: the tenant filter without the cut-off.
  "integrity/eventsWithIds": (t) => [t, ["evt-1"]],
  "integrity/eventsInWindow": (t) => [t, { from: CUTOFF, to: "2026-01-01T00:00:00Z" }, 100],
  "integrity/tenantLeavesWithIds": (t) => [t, ["evt-1"]],
  "integrity/refusedSearch": (t) => [t, 10, ["evt-1"]],
  "integrity/receiptsSearch": (t) => [t, 10],
};

/** Exports that are not a tenant's read, and why. */
const NOT_TENANT_READS: Record<string, string> = {
  "exports/EXPORT_SORT": "a sort order",
  "integrity/CHUNK": "a constant",
  "integrity/stateId": "a document id built from the verified tenant (tenant ids hold no ':')",
  "integrity/hashesId": "a document id built from the verified tenant",
  "integrity/leavesId": "a document id built from the verified tenant",
  "integrity/checkpointId": "a document id built from the verified tenant",
  "integrity/receiptId": "a document id built from the verified tenant",
  "integrity/verificationId": "a document id built from the verified tenant",
  "integrity/refusedId": "a document id built from the tenant of the event the sealer refused",
  "integrity/leavesWithIds":
    "the sealer: whether a page's event ids are leaves already, each matched to its own tenant's log",
  "integrity/storeOrderSearch":
    "the sealer: every tenant's events in store order, each appended to its own tenant's log",
  "integrity/pendingSearch": "the sealer: which tenants' logs grew past their newest checkpoint",
  "integrity/isBefore": "arithmetic on store positions",
  "delivery/allDestinations":
    "the deliverers' work list over every tenant (each destination is then delivered under its own tenant)",
  "exports/claimableJobs": "the worker's queue over every tenant (each job then runs under its own tenant)",
  "query/EVENT_SORT": "a sort order",
  "retention/expiredFor":
    "the purge: one tenant's expired events (the complement of its reads, tested in retention)",
  "retention/tenantsPage": "the purge: which tenants have events",
  "retention/customRetentions": "the purge: tenants with their own retention",
  "stream/changesSearch":
    "the shared feed: the subscribed tenants' new events, each matched in memory by inScope",
  "summary/GROUP_FIELDS": "field names",
  "summary/HOUR_MS": "a constant",
  "summary/DAY_MS": "a constant",
  "summary/ROW_KINDS": "field names of the rollup's rows",
  "summary/SERIES_ROWS": "which kind of row a series by each entity reads",
  "summary/WEIGHT": "an aggregation (inside summarySearch)",
  "summary/countedBy": "a clause (inside summarySearch's aggregations)",
  "summary/splitClause": "a clause (inside summarySearch's and seriesSearch's scoped query)",
  "summary/storedAfter": "a clause (inside dirtyHoursSearch, and the job's)",
  "summary/laterIndexPatterns": "index name patterns",
  "summary/periodRanges": "arithmetic on periods",
  "summary/periodsOf": "arithmetic on periods",
  "summary/rollupSpans": "arithmetic on a window",
  "summary/rowDocument": "the rollup job: one row it writes",
  "summary/purgedRows": "the rollup job: rows of hours purged, each tenant's own cut-off",
  "summary/changedPairsSearch": "the rollup job: which tenants' hours received events, over every tenant",
  "summary/rowsSearch":
    "the rollup job: one tenant's counts over every stored event (readers apply the cut-off, see rowSpan)",
  "summary/parseSummary": "a parser of responses",
  "summary/parseSeries": "a parser of responses",
  "summary/scoreAnomalies": "a parser of responses",
};

const features = path.join(PROJECT_ROOT, "src", "features");
const modules = readdirSync(features).flatMap((feature) =>
  readdirSync(path.join(features, feature))
    .filter((f) => f.endsWith(".query.ts"))
    .map((f) => ({ feature, file: path.join(features, feature, f) })),
);

describe("query builders", async () => {
  const exported: [string, unknown][] = [];
  for (const m of modules)
    for (const [name, value] of Object.entries(await import(m.file)))
      exported.push([`${m.feature}/${name}`, value]);

  it("are found in every feature's *.query.ts, and each is classified", () => {
    expect(modules.length).toBeGreaterThanOrEqual(5);
    const known = new Set([
      ...Object.keys(TENANT_BUILDERS),
      ...Object.keys(TENANT_DOCUMENTS),
      ...Object.keys(NOT_TENANT_READS),
    ]);
    const unclassified = exported.map(([name]) => name).filter((n) => !known.has(n));
    expect(unclassified, "classify each new export above").toEqual([]);
    const missing = [...known].filter((n) => !exported.some(([name]) => name === n));
    expect(missing, "classified but no longer exported").toEqual([]);
  });

  const run = (name: string, samples: Samples, tenant: Tenant) => {
    const fn = exported.find(([n]) => n === name)?.[1] as (...args: unknown[]) => Clause;
    return fn(...samples(tenant)) as { query: { bool: { filter: unknown[] } } };
  };

  it.each(Object.entries(TENANT_BUILDERS))(
    "%s puts the tenant filter first, then the retention cut-off",
    (name, samples) => {
      const body = run(name, samples, { id: "tenant-x", since: CUTOFF });
      expect(body.query.bool.filter[0]).toEqual({ term: { "scaivault.tenant": "tenant-x" } });
      expect(body.query.bool.filter[1]).toEqual({
        range: { "@timestamp": { gte: CUTOFF, format: "strict_date_optional_time_nanos" } },
      });
    },
  );

  it.each(Object.entries(TENANT_DOCUMENTS))("%s puts the tenant filter first", (name, samples) => {
    const body = run(name, samples, { id: "tenant-x", since: CUTOFF });
    expect(body.query.bool.filter[0]).toEqual({ term: { "scaivault.tenant": "tenant-x" } });
  });
});
