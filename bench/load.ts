/**
 * `npm run bench:load [-- --seconds 60 --clients 200 --events 100000]`
 * The service under load, in its own process with its default budgets, over a real OpenSearch;
 * this script is the second process that makes the load. Two parts:
 *
 * 1. **Mixed**: `clients` clients for `seconds` across ten tenants — ingest (20-event batches with
 *    new ids), /logs pages, secret and identity trails, 7-day summaries — each client waiting out
 *    Retry-After on a 429, as a well-behaved client does. Reports requests and statuses, p50/p99
 *    per route; then counts in OpenSearch every event acknowledged during the run: each must be
 *    stored, exactly once.
 * 2. **Noisy tenant**: a victim tenant's `/logs?limit=5` (2 clients) alone, then beside a noisy
 *    tenant's 50 clients of 90-day hourly summaries (`top=100`) and 1,000-row pages that do not
 *    wait after a 429 (20 ms, to keep this machine's CPU for the service). Victim p50/p95 alone and
 *    loaded, and the ratio (goal: p95 ≤ 2× alone) — with the default budgets, and again on a
 *    second service whose budgets never refuse (the service before budgets), for comparison.
 *
 * Exits 1 on any 5xx or an acknowledged event not stored exactly once, so CI can run it
 * (`--ci`: shorter phases). Writes bench/results/load.json (or reports/load.json with --ci).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { mintToken } from "../dev/token.ts";
import { TENANT_NAMES } from "../scripts/seed.ts";
import { PROJECT_ROOT } from "../src/opensearch/bootstrap.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { benchEnv, ensureSeeded, LIFTED_BUDGETS, percentile } from "./support.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    clients: { type: "string", default: "200" },
    events: { type: "string", default: "100000" },
    ci: { type: "boolean", default: false },
  },
});
const CI = values.ci;
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const ALONE_S = CI ? 10 : 20;
const NOISY_S = CI ? 20 : 30;
const NOISY_CLIENTS = 50;
const END = new Date("2026-11-26T00:00:00Z"); // fixed, so reruns against one cluster reuse the data
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const env = await benchEnv({}, "default");
const client = createOpenSearchClient({ url: env.opensearchUrl });
const seeded = await ensureSeeded(client, Number(values.events), END, 10);
const tenants = TENANT_NAMES.slice(0, 10);
const tokens = Object.fromEntries(
  await Promise.all(
    tenants.map(async (t) => [
      t,
      await mintToken(env.secret, {
        sub: `service_account:load-${t}`,
        tenant: t,
        scope: "audit:read audit:write",
      }),
    ]),
  ),
) as Record<string, string>;

interface Sample {
  route: string;
  status: number;
  ms: number;
}

/** One request, timed; the body is read (so the time includes it) and returned. */
async function call(
  base: string,
  route: string,
  tenant: string,
  pathAndQuery: string,
  init: RequestInit = {},
): Promise<{ sample: Sample; res: Response; body: string }> {
  const began = performance.now();
  const res = await fetch(`${base}${pathAndQuery}`, {
    ...init,
    headers: { Authorization: `Bearer ${tokens[tenant]}`, ...(init.headers ?? {}) },
  });
  const body = await res.text();
  return { sample: { route, status: res.status, ms: performance.now() - began }, res, body };
}

const retryAfterMs = (res: Response) => Math.min(5, Number(res.headers.get("retry-after") ?? 1)) * 1000;

function summarize(samples: Sample[]) {
  const routes = [...new Set(samples.map((s) => s.route))].sort();
  return Object.fromEntries(
    routes.map((r) => {
      const of = samples.filter((s) => s.route === r);
      const ok = of.filter((s) => s.status < 400).map((s) => s.ms);
      const byStatus: Record<string, number> = {};
      for (const s of of) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      return [
        r,
        {
          requests: of.length,
          by_status: byStatus,
          ok_p50_ms: ok.length ? round(percentile(ok, 50)) : null,
          ok_p99_ms: ok.length ? round(percentile(ok, 99)) : null,
        },
      ];
    }),
  );
}
const round = (x: number) => Math.round(x * 10) / 10;

// ---- 1. mixed load -------------------------------------------------------------------------

const RUN = Date.now().toString(36);
const acknowledged: string[] = [];
const mixed: Sample[] = [];
const PATHS = ["prod/payments/db-password", "prod/billing/stripe-key", "staging/api/jwt-signing"];
const WHO = ["service_account:payments-0", "user:person3@{t}.example", "user:person7@{t}.example"];

async function mixedClient(c: number, until: number): Promise<void> {
  const tenant = tenants[c % tenants.length] as string;
  let n = 0;
  while (performance.now() < until) {
    const pick = (c + n) % 20;
    n++;
    let r: Awaited<ReturnType<typeof call>>;
    if (pick < 5) {
      const ids = Array.from({ length: 20 }, (_, i) => `load-${RUN}-${c}-${n}-${i}`);
      r = await call(env.apiUrl, "POST /events", tenant, "/v1/audit/events", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          events: ids.map((id) => ({
            id,
            timestamp: new Date().toISOString(),
            action: "read",
            path: PATHS[n % PATHS.length],
            identity: { id: `service_account:load-${c}`, type: "service_account" },
            success: true,
          })),
        }),
      });
      // Acknowledged: stored now or before (a duplicate); a refused event is not acknowledged.
      if (r.res.status === 200 && JSON.parse(r.body).rejected.length === 0) acknowledged.push(...ids);
    } else if (pick < 12) {
      r = await call(
        env.apiUrl,
        "GET /logs",
        tenant,
        `/v1/audit/logs?limit=50&from=${iso(END.getTime() - DAY)}`,
      );
    } else if (pick < 14) {
      r = await call(
        env.apiUrl,
        "GET /secrets/{path}",
        tenant,
        `/v1/audit/secrets/${PATHS[n % PATHS.length]}?limit=20`,
      );
    } else if (pick < 16) {
      const who = (WHO[n % WHO.length] as string).replace("{t}", tenant);
      r = await call(
        env.apiUrl,
        "GET /identities/{id}",
        tenant,
        `/v1/audit/identities/${encodeURIComponent(who)}?limit=20`,
      );
    } else {
      r = await call(
        env.apiUrl,
        "GET /summary",
        tenant,
        `/v1/audit/summary?from=${iso(END.getTime() - 7 * DAY)}&to=${iso(END.getTime())}`,
      );
    }
    mixed.push(r.sample);
    if (r.res.status === 429 || r.res.status === 503) await sleep(retryAfterMs(r.res));
  }
}

console.log(
  `mixed: ${CLIENTS} clients for ${SECONDS}s over ${tenants.length} tenants (${seeded} events stored)…`,
);
const mixedBegan = performance.now();
await Promise.all(Array.from({ length: CLIENTS }, (_, c) => mixedClient(c, mixedBegan + SECONDS * 1000)));
const mixedSeconds = (performance.now() - mixedBegan) / 1000;

// Every acknowledged event stored exactly once: _id is derived from the event id, so a count of
// the acknowledged ids that equals their number means each is there once.
await client.indices.refresh({ index: AUDIT_STREAM });
let found = 0;
for (let i = 0; i < acknowledged.length; i += 10_000) {
  const ids = acknowledged.slice(i, i + 10_000);
  const res = await client.count({
    index: AUDIT_STREAM,
    body: { query: { terms: { "event.id": ids } } },
  });
  found += res.body.count;
}
const storedForRun = (
  await client.count({ index: AUDIT_STREAM, body: { query: { prefix: { "event.id": `load-${RUN}-` } } } })
).body.count;

// ---- 2. noisy tenant -----------------------------------------------------------------------

const VICTIM = tenants[9] as string;
const NOISY = tenants[0] as string;

async function victimLoop(base: string, until: number, into: number[]): Promise<void> {
  while (performance.now() < until) {
    const r = await call(base, "victim", VICTIM, "/v1/audit/logs?limit=5");
    if (r.res.status === 200) into.push(r.sample.ms);
    else await sleep(retryAfterMs(r.res));
  }
}

async function noisyLoop(
  base: string,
  c: number,
  until: number,
  statuses: Record<string, number>,
): Promise<void> {
  let n = c;
  while (performance.now() < until) {
    const q =
      n++ % 2 === 0
        ? `/v1/audit/summary?from=${iso(END.getTime() - 90 * DAY)}&to=${iso(END.getTime())}&interval=1h&top=100`
        : "/v1/audit/logs?limit=1000";
    const r = await call(base, "noisy", NOISY, q);
    statuses[r.res.status] = (statuses[r.res.status] ?? 0) + 1;
    if (r.res.status !== 200) await sleep(20);
  }
}

async function noisyScenario(base: string) {
  const alone: number[] = [];
  let until = performance.now() + ALONE_S * 1000;
  await Promise.all([victimLoop(base, until, alone), victimLoop(base, until, alone)]);
  const loaded: number[] = [];
  const noisy: Record<string, number> = {};
  until = performance.now() + NOISY_S * 1000;
  await Promise.all([
    victimLoop(base, until, loaded),
    victimLoop(base, until, loaded),
    ...Array.from({ length: NOISY_CLIENTS }, (_, c) => noisyLoop(base, c, until, noisy)),
  ]);
  const p = (xs: number[], q: number) => (xs.length ? round(percentile(xs, q)) : null);
  return {
    victim_alone: { requests: alone.length, p50_ms: p(alone, 50), p95_ms: p(alone, 95) },
    victim_loaded: { requests: loaded.length, p50_ms: p(loaded, 50), p95_ms: p(loaded, 95) },
    p95_ratio: alone.length && loaded.length ? round(percentile(loaded, 95) / percentile(alone, 95)) : null,
    noisy_statuses: noisy,
  };
}

console.log("noisy tenant, default budgets…");
const withBudgets = await noisyScenario(env.apiUrl);
console.log("noisy tenant, budgets lifted…");
const lifted = await env.anotherApi(LIFTED_BUDGETS);
const withoutBudgets = await noisyScenario(lifted.apiUrl);
await lifted.stop();

const fiveXX = mixed.filter((s) => s.status >= 500).length;
const result = {
  date: new Date().toISOString(),
  machine: { cores: cpus().length },
  events_stored_before: seeded,
  mixed: {
    clients: CLIENTS,
    seconds: round(mixedSeconds),
    tenants: tenants.length,
    requests: mixed.length,
    requests_per_second: round(mixed.length / mixedSeconds),
    five_xx: fiveXX,
    routes: summarize(mixed),
    events_acknowledged: acknowledged.length,
    acknowledged_found: found,
    stored_for_run: storedForRun,
  },
  noisy_tenant: {
    noisy_clients: NOISY_CLIENTS,
    seconds_alone: ALONE_S,
    seconds_loaded: NOISY_S,
    default_budgets: withBudgets,
    budgets_lifted: withoutBudgets,
  },
};
console.log(JSON.stringify(result, null, 2));
const out = CI
  ? path.join(PROJECT_ROOT, "reports/load.json")
  : path.join(PROJECT_ROOT, "bench/results/load.json");
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
await client.close();
await env.close();

const failures = [
  ...(fiveXX > 0 ? [`${fiveXX} responses were 5xx`] : []),
  ...(found !== acknowledged.length
    ? [`${acknowledged.length - found} acknowledged events are not stored`]
    : []),
];
if (failures.length > 0) {
  console.error(`FAILED: ${failures.join("; ")}`);
  process.exit(1);
}
