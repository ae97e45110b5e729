/**
 * `npm run bench:query [-- --events 1000000 --iterations 200]`
 * p50/p95 latency of six representative queries through GET /v1/audit/logs and the same
 * OpenSearch query (built by the same pure builder) sent straight to OpenSearch, in the same run,
 * interleaved request by request. Seeds the events first (skipped when already there). Prints the
 * figures and the ratio, and writes bench/results/query.json. Target: API p50 ≤ 1.15 × direct + 2 ms.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { mintToken } from "../dev/token.ts";
import { eventsSearch } from "../src/features/query/query.query.ts";
import { FILTER_PARAMS, type Filters, parseQuery } from "../src/filters/filters.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../src/tenancy/retention.ts";
import { benchEnv, compareLatency, ensureSeeded } from "./support.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    iterations: { type: "string", default: "200" },
  },
});
const EVENTS = Number(values.events);
const ITERATIONS = Number(values.iterations);
const TENANT = "acme"; // the seed's largest tenant
const END = new Date("2026-11-26T00:00:00Z"); // fixed, so reruns against one cluster reuse the data

const env = await benchEnv();
const client = createOpenSearchClient({ url: env.opensearchUrl });
const total = await ensureSeeded(client, EVENTS, END);

/**
 * Six questions people ask: the API endpoint and query string, and the filters the path fixes.
 * The direct side sends what the same builder makes of them.
 */
const WHO = "service_account:payments-0";
const QUERIES: { name: string; path: string; qs: string; fixed?: Filters }[] = [
  {
    name: "incident window (10 min)",
    path: "/v1/audit/logs",
    qs: "from=2026-11-20T14:25:00Z&to=2026-11-20T14:35:00Z",
  },
  {
    name: "identity trail (90 days)",
    path: `/v1/audit/identities/${encodeURIComponent(WHO)}`,
    qs: "from=2026-08-28T00:00:00Z",
    fixed: { identityId: WHO },
  },
  {
    name: "secret trail",
    path: "/v1/audit/secrets/prod/payments/db-password",
    qs: "",
    fixed: { path: "prod/payments/db-password" },
  },
  {
    name: "failed reads after a policy change",
    path: "/v1/audit/logs",
    qs: "action=read&success=false&from=2026-11-01T00:00:00Z",
  },
  { name: "path prefix", path: "/v1/audit/logs", qs: "path_prefix=prod/billing" },
  { name: "CIDR", path: "/v1/audit/logs", qs: "source_ip=10.0.0.0/8&action=write" },
];

const token = await mintToken(env.secret, { sub: "user:bench", tenant: TENANT, scope: "audit:read" });
const now = new Date();

console.log(
  `query benchmark: ${total} events in ${env.opensearchUrl}, tenant ${TENANT}, ${ITERATIONS} iterations per side, ${cpus().length} cores`,
);
const results = [];
for (const { name, path, qs, fixed } of QUERIES) {
  const filters: Filters = {
    ...parseQuery(new URLSearchParams(qs), { allowed: FILTER_PARAMS, now }).filters,
    ...fixed,
  };
  const directBody = JSON.stringify(
    eventsSearch({ id: TENANT, since: cutoff(DEFAULT_RETENTION_DAYS, new Date()) }, filters, { limit: 100 }),
  );
  let hits = 0;
  const api = async () => {
    const res = await fetch(`${env.apiUrl}${path}?${qs}&limit=100`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const body = (await res.json()) as { entries: unknown[] };
    if (res.status !== 200) throw new Error(`API ${res.status}`);
    hits = body.entries.length;
  };
  const direct = async () => {
    const res = await fetch(`${env.opensearchUrl}/${AUDIT_STREAM}/_search`, {
      method: "POST",
      body: directBody,
      headers: { "Content-Type": "application/json" },
    });
    const body = (await res.json()) as { hits: { hits: unknown[] } };
    if (res.status !== 200) throw new Error(`OpenSearch ${res.status}`);
    hits = body.hits.hits.length;
  };
  const m = await compareLatency(api, direct, { iterations: ITERATIONS, warmup: 20 });
  const r = {
    query: name,
    request: `${path}?${qs}`,

    hits_per_page: hits,
    api_ms: m.api,
    direct_ms: m.direct,
    ratio_p50: m.ratio,
    within_target: m.api.p50 <= 1.15 * m.direct.p50 + 2,
  };
  results.push(r);
  console.log(
    `${name.padEnd(36)} API p50 ${r.api_ms.p50.toFixed(1).padStart(6)} ms p95 ${r.api_ms.p95.toFixed(1).padStart(6)} | ` +
      `direct p50 ${r.direct_ms.p50.toFixed(1).padStart(6)} ms p95 ${r.direct_ms.p95.toFixed(1).padStart(6)} | ` +
      `ratio ${r.ratio_p50.toFixed(2)} ${r.within_target ? "ok" : "MISSED"} (${hits} hits)`,
  );
}
await mkdir(new URL("./results/", import.meta.url), { recursive: true });
await writeFile(
  new URL("./results/query.json", import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), events: total, machine: { cores: cpus().length }, iterations: ITERATIONS, results }, null, 2)}\n`,
);
await client.close();
await env.close();
