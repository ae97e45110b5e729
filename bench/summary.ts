/**
 * `npm run bench:summary [-- --events 1000000 --iterations 60]`
 * p50/p95 of summaries through GET /v1/audit/summary and the same aggregation request (built by
 * the same pure builder) sent straight to OpenSearch, interleaved, same run, with the shard
 * request cache cleared before each timed request. Seeds first when needed. Target: API p50
 * within 1.15× of direct. Writes bench/results/summary.json.

 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { mintToken } from "../dev/token.ts";
import { defaultInterval, type Interval } from "../src/features/summary/intervals.ts";
import { summarySearch } from "../src/features/summary/summary.query.ts";
import { FILTER_PARAMS, parseQuery } from "../src/filters/filters.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../src/tenancy/retention.ts";
import { benchEnv, compareLatency, ensureSeeded } from "./support.ts";

const { values } = parseArgs({
  options: { events: { type: "string", default: "1000000" }, iterations: { type: "string", default: "60" } },
});
const ITERATIONS = Number(values.iterations);
const TENANT = "acme";
const END = new Date("2026-11-26T00:00:00Z");

const env = await benchEnv();
const client = createOpenSearchClient({ url: env.opensearchUrl });
const total = await ensureSeeded(client, Number(values.events), END);
const token = await mintToken(env.secret, { sub: "user:bench", tenant: TENANT, scope: "audit:read" });

/** Dashboards ask for the whole quarter, a week by the hour, and one day's failures. */
const QUERIES: { name: string; qs: string }[] = [
  { name: "90 days, default interval", qs: "from=2026-08-28T00:00:00Z&to=2026-11-26T00:00:00Z" },
  { name: "7 days by the hour", qs: "from=2026-11-19T00:00:00Z&to=2026-11-26T00:00:00Z&interval=1h" },
  {
    name: "one day of failed reads, top 25",
    qs: "from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z&action=read&success=false&top=25",
  },
];

console.log(
  `summary benchmark: ${total} events, tenant ${TENANT}, ${ITERATIONS} iterations per side, ${cpus().length} cores`,
);
const results = [];
for (const { name, qs } of QUERIES) {
  const params = new URLSearchParams(qs);
  const interval = params.get("interval") as Interval | null;
  const top = Number(params.get("top") ?? 10);
  params.delete("interval");
  params.delete("top");
  const { filters } = parseQuery(params, { allowed: FILTER_PARAMS, now: END, paging: false });
  const window = { from: Date.parse(filters.from as string), to: Date.parse(filters.to as string) };
  const body = JSON.stringify(
    summarySearch({ id: TENANT, since: cutoff(DEFAULT_RETENTION_DAYS, new Date()) }, filters, {
      interval: interval ?? defaultInterval(window.to - window.from),
      window,
      top,
    }),
  );
  const api = async () => {
    const res = await fetch(`${env.apiUrl}/v1/audit/summary?${qs}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`API ${res.status}: ${await res.text()}`);
    await res.json();
  };
  const direct = async () => {
    const res = await fetch(`${env.opensearchUrl}/${AUDIT_STREAM}/_search`, {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json" },
    });
    if (res.status !== 200) throw new Error(`OpenSearch ${res.status}`);
    await res.json();
  };
  // Each timed request computes the aggregation: the shard request cache would otherwise answer
  // repeats of a size-0 request from memory on both sides, and the run would time the cache.
  const clearCache = () =>
    fetch(`${env.opensearchUrl}/${AUDIT_STREAM}/_cache/clear?request=true`, { method: "POST" });
  const m = await compareLatency(api, direct, { iterations: ITERATIONS, warmup: 5, before: clearCache });
  const r = {
    query: name,
    params: qs,
    api_ms: m.api,
    direct_ms: m.direct,
    ratio_p50: m.ratio,
  };
  results.push(r);
  console.log(
    `${name.padEnd(34)} API p50 ${r.api_ms.p50.toFixed(1).padStart(7)} ms p95 ${r.api_ms.p95.toFixed(1).padStart(7)} | ` +
      `direct p50 ${r.direct_ms.p50.toFixed(1).padStart(7)} ms p95 ${r.direct_ms.p95.toFixed(1).padStart(7)} | ratio ${r.ratio_p50.toFixed(2)} ${r.ratio_p50 <= 1.15 ? "ok" : "MISSED"}`,
  );
}
await mkdir(new URL("./results/", import.meta.url), { recursive: true });
await writeFile(
  new URL("./results/summary.json", import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), events: total, machine: { cores: cpus().length }, iterations: ITERATIONS, results }, null, 2)}\n`,
);
await client.close();
await env.close();
