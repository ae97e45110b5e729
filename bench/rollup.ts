/**
 * `OPENSEARCH_URL=… npm run bench:rollup` — the pre-aggregation experiment (issue 17): on a seeded
 * cluster (`npm run bench` leaves one), the busiest tenant's 90 days rolled up by the hour into an
 * index `exp-rollup` (one row per hour and totals key, identity, path and source address), then the
 * 90-day summary timed live on the stream and as the equivalent aggregation over the rollup, request
 * cache cleared before each. Prints the rows and both p50s. Not part of the service.
 */
import { summarySearch } from "../src/features/summary/summary.query.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";

if (!process.env.OPENSEARCH_URL) {
  console.error("set OPENSEARCH_URL to a cluster seeded by npm run bench");
  process.exit(2);
}
const client = createOpenSearchClient({ url: process.env.OPENSEARCH_URL, requestTimeoutMs: 3_600_000 });
const tenant = "acme";
const from = "2026-08-28T00:00:00Z";
const to = "2026-11-26T00:00:00Z";
const q = {
  bool: {
    filter: [{ term: { "scaivault.tenant": tenant } }, { range: { "@timestamp": { gte: from, lt: to } } }],
  },
};
const ROLLUP = "exp-rollup";
interface Composite {
  buckets: {
    key: Record<string, string | number | null>;
    doc_count: number;
    failures: { doc_count: number };
  }[];
  after_key?: unknown;
}
const exists = (await client.indices.exists({ index: ROLLUP })).body;
if (!exists)
  await client.indices.create({
    index: ROLLUP,
    body: {
      settings: { index: { number_of_shards: 1, number_of_replicas: 0 } },
      mappings: {
        dynamic: "strict",
        properties: {
          hour: { type: "date" },
          kind: { type: "keyword" },
          key: { type: "keyword" },
          action: { type: "keyword" },
          outcome: { type: "keyword" },
          identity_type: { type: "keyword" },
          error_code: { type: "keyword" },
          count: { type: "long" },
          failures: { type: "long" },
        },
      },
    } as never,
  });
const kinds: Record<
  string,
  { sources: unknown[]; row: (k: Record<string, string | number | null>) => Record<string, unknown> }
> = {
  totals: {
    sources: [
      { action: { terms: { field: "event.action" } } },
      { outcome: { terms: { field: "event.outcome" } } },
      { identity_type: { terms: { field: "scaivault.identity.type" } } },
      { error_code: { terms: { field: "error.code", missing_bucket: true } } },
    ],
    row: (k) => ({
      action: k.action,
      outcome: k.outcome,
      identity_type: k.identity_type,
      error_code: k.error_code,
    }),
  },
  identity: { sources: [{ key: { terms: { field: "user.id" } } }], row: (k) => ({ key: k.key }) },
  path: { sources: [{ key: { terms: { field: "scaivault.path" } } }], row: (k) => ({ key: k.key }) },
  ip: {
    sources: [{ key: { terms: { field: "source.ip", missing_bucket: true } } }],
    row: (k) => ({ key: k.key }),
  },
};
const began = performance.now();
let rows = 0;
for (const [kind, def] of exists ? [] : Object.entries(kinds)) {
  let after: unknown;
  for (;;) {
    const res = await client.search({
      index: AUDIT_STREAM,
      body: {
        size: 0,
        query: q,
        aggs: {
          c: {
            composite: {
              size: 5000,
              sources: [
                { hour: { date_histogram: { field: "@timestamp", fixed_interval: "1h" } } },
                ...def.sources,
              ],
              ...(after ? { after } : {}),
            },
            aggs: { failures: { filter: { term: { "event.outcome": "failure" } } } },
          },
        },
      } as never,
    });
    const c = (res.body.aggregations as { c: Composite }).c;
    let body = "";
    for (const b of c.buckets) {
      body += `{"index":{}}\n${JSON.stringify({ hour: b.key.hour, kind, ...def.row(b.key), count: b.doc_count, failures: b.failures.doc_count })}\n`;
      rows++;
    }
    if (body) await client.bulk({ index: ROLLUP, body: body as never });
    if (!c.after_key || c.buckets.length < 5000) break;
    after = c.after_key;
  }
  console.log(kind, "rows so far", rows);
}
await client.indices.refresh({ index: ROLLUP });
await client.indices.forcemerge({ index: ROLLUP, max_num_segments: 1 });
console.log(`rollup: ${rows} rows in ${((performance.now() - began) / 1000).toFixed(0)} s`);
const sum = { s: { sum: { field: "count" } } };
const rollupSummary = {
  size: 0,
  query: { range: { hour: { gte: from, lt: to } } },
  aggs: {
    totals: {
      filter: { term: { kind: "totals" } },
      aggs: {
        total: { sum: { field: "count" } },
        outcomes: { terms: { field: "outcome", size: 2 }, aggs: sum },
        by_action: { terms: { field: "action", size: 50 }, aggs: sum },
        by_identity_type: { terms: { field: "identity_type", size: 10 }, aggs: sum },
        errors: { terms: { field: "error_code", size: 1000 }, aggs: sum },
        histogram: {
          date_histogram: { field: "hour", fixed_interval: "1d" },
          aggs: { ...sum, f: { sum: { field: "failures" } } },
        },
      },
    },
    identities: {
      filter: { term: { kind: "identity" } },
      aggs: {
        unique: { cardinality: { field: "key" } },
        top: {
          terms: { field: "key", size: 10, order: { s: "desc" } },
          aggs: { ...sum, f: { sum: { field: "failures" } } },
        },
      },
    },
    paths: {
      filter: { term: { kind: "path" } },
      aggs: {
        unique: { cardinality: { field: "key" } },
        top: { terms: { field: "key", size: 10, order: { s: "desc" } }, aggs: sum },
      },
    },
    ips: {
      filter: { term: { kind: "ip" } },
      aggs: { top: { terms: { field: "key", size: 10, order: { s: "desc" } }, aggs: sum } },
    },
  },
};
const time = async (index: string, body: unknown, n = 20) => {
  const ts: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    await client.indices.clearCache({ index, request: true });
    const t = performance.now();
    await client.search({ index, body: body as never });
    if (i >= 3) ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]?.toFixed(1);
};
const live = summarySearch(
  { id: tenant, since: null },
  { from, to },
  { interval: "1d", window: { from: Date.parse(from), to: Date.parse(to) }, top: 10 },
);
console.log(
  "90-day summary p50 ms: live",
  await time(AUDIT_STREAM, live),
  "| rollup",
  await time(ROLLUP, rollupSummary),
);
await client.close();
