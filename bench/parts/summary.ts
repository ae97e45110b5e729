/**
 * Summaries and per-entity series (what dashboards and anomaly-baseline jobs ask): through the API,
 * the same aggregation sent straight to OpenSearch over the events alone, and — where the service
 * uses its rollup (an unfiltered summary in whole hours, a daily series by identity) — over events
 * and rollup rows, as the API sends it; and the plain aggregation (document counts, no weights) on
 * the naive index.
 * First waits until the service's rollup job has counted the seeded events (timed: at 10M, the
 * initial build). The shard request cache is cleared before every timed request, or the run would
 * time the cache.
 */
import { mintToken } from "../../dev/token.ts";
import { defaultInterval, type Interval } from "../../src/features/summary/intervals.ts";
import { seriesSearch, summarySearch } from "../../src/features/summary/summary.query.ts";
import { rollupPlan } from "../../src/features/summary/summary.service.ts";
import { FILTER_PARAMS, parseQuery } from "../../src/filters/filters.ts";
import { createOpenSearchClient } from "../../src/opensearch/client.ts";
import { AUDIT_STREAM, ROLLUP_INDEX } from "../../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../../src/tenancy/retention.ts";
import { NAIVE_INDEX, naiveBody } from "../naive.ts";
import { timeSides } from "../support.ts";
import { type BenchContext, ms, type PartResult, ratio } from "./part.ts";

export async function summary(ctx: BenchContext): Promise<PartResult> {
  const { env, tenant, end } = ctx;
  const token = await mintToken(env.secret, { sub: "user:bench", tenant, scope: "audit:read" });
  const day = (n: number) =>
    `${new Date(end.getTime() - n * 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`;
  const QUESTIONS = [
    { name: "90 days, default interval", path: "summary", qs: `from=${day(90)}&to=${day(0)}` },
    {
      name: "90 days by the hour, top 100",
      path: "summary",
      qs: `from=${day(90)}&to=${day(0)}&interval=1h&top=100`,
    },
    { name: "7 days by the hour", path: "summary", qs: `from=${day(7)}&to=${day(0)}&interval=1h` },
    {
      name: "1 day of failed reads, top 25",
      path: "summary",
      qs: `from=${day(1)}&to=${day(0)}&action=read&success=false&top=25`,
    },
    {
      name: "series: identities by day, 90 days",
      path: "summary/series",
      qs: `from=${day(90)}&to=${day(0)}&group_by=identity_id&interval=1d&limit=100`,
    },
  ];
  const scope = { id: tenant, since: cutoff(DEFAULT_RETENTION_DAYS, new Date()) };
  const client = createOpenSearchClient({ url: env.opensearchUrl, requestTimeoutMs: 600_000 });
  const caughtUp = await waitForRollup(client, scope, {
    from: Date.parse(day(90)),
    to: Date.parse(day(0)),
  });
  console.log(
    `  rollup caught up after ${caughtUp.seconds} s: ${caughtUp.rows} rows for ${tenant}, ` +
      `${caughtUp.all_rows} in all, ${caughtUp.mb} MB`,
  );
  const rows = [];
  const data: Record<string, unknown> = {};
  for (const q of QUESTIONS) {
    const params = new URLSearchParams(q.qs);
    const extra = Object.fromEntries(["interval", "top", "group_by", "limit"].map((k) => [k, params.get(k)]));
    for (const k of Object.keys(extra)) params.delete(k);
    const { filters } = parseQuery(params, { allowed: FILTER_PARAMS, now: end, paging: false });
    const window = { from: Date.parse(filters.from as string), to: Date.parse(filters.to as string) };
    const interval = (extra.interval as Interval | null) ?? defaultInterval(window.to - window.from);
    const seriesOpts = { groupBy: "identity_id", interval, window, limit: Number(extra.limit) } as const;
    const summaryOpts = { interval, window, top: Number(extra.top ?? 10) };
    const body =
      q.path === "summary"
        ? summarySearch(scope, filters, summaryOpts)
        : seriesSearch(scope, filters, seriesOpts);
    const post = async (index: string, b: unknown) => {
      const res = await fetch(`${env.opensearchUrl}/${index}/_search`, {
        method: "POST",
        body: JSON.stringify(b),
        headers: { "Content-Type": "application/json" },
      });
      if (res.status !== 200) throw new Error(`${index}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      await res.json();
    };
    // The rows the API reads (summary.service): these questions are all unfiltered or all events.
    const view = await rollupPlan(client, scope, filters, { interval, window });
    const rolled =
      view &&
      (q.path === "summary"
        ? summarySearch(scope, filters, summaryOpts, view)
        : view.days && seriesSearch(scope, filters, seriesOpts, view));
    const naive = naiveBody(plainCounts(body));
    const m = await timeSides(
      {
        api: async () => {
          const res = await fetch(`${env.apiUrl}/v1/audit/${q.path}?${q.qs}`, {
            headers: { Authorization: `Bearer ${token}` },
          });
          if (res.status !== 200) throw new Error(`API ${res.status}: ${(await res.text()).slice(0, 300)}`);
          await res.json();
        },
        direct: () => post(AUDIT_STREAM, body),
        rollup: () => (rolled ? post(`${AUDIT_STREAM},${ROLLUP_INDEX}`, rolled) : Promise.resolve()),
        naive: () => post(NAIVE_INDEX, naive),
      },
      {
        iterations: Math.max(5, Math.round(ctx.iterations / 10)),
        warmup: 3,
        before: () => fetch(`${env.opensearchUrl}/_cache/clear?request=true`, { method: "POST" }),
      },
    );
    const { rollup, ...sides } = m;
    data[q.name] = { request: `/v1/audit/${q.path}?${q.qs}`, ...sides, ...(rolled ? { rollup } : {}) };
    rows.push([
      q.name,
      `${ms(m.api.p50)} / ${ms(m.api.p95)}`,
      `${ms(m.direct.p50)} / ${ms(m.direct.p95)}`,
      rolled ? `${ms(m.rollup.p50)} / ${ms(m.rollup.p95)}` : "—",
      `${ms(m.naive.p50)} / ${ms(m.naive.p95)}`,
      ratio(m.naive.p50, m.direct.p50),
      rolled ? ratio(m.naive.p50, m.rollup.p50) : "—",
      ratio(m.api.p50, rolled ? m.rollup.p50 : m.direct.p50),
    ]);
    console.log(`  ${rows.at(-1)?.join(" | ")}`);
  }
  return {
    tables: [
      {
        title: `Summaries and series (tenant ${tenant}, ms p50 / p95, request cache cleared)`,
        head: [
          "question",
          "API",
          "direct: events",
          "direct: events + rollup",
          "naive",
          "naive ÷ events",
          "naive ÷ rollup",
          "API ÷ direct used",
        ],
        rows,
      },
    ],
    data: { ...data, rollup_caught_up: caughtUp },
  };
}

/**
 * Waits until the service's rollup job has counted every event of the window (no dirty hour left),
 * which for a freshly seeded cluster is its initial build.
 */
async function waitForRollup(
  client: ReturnType<typeof createOpenSearchClient>,
  scope: { id: string; since: string },
  window: { from: number; to: number },
): Promise<{ seconds: number; rows: number; all_rows: number; mb: number }> {
  const began = performance.now();
  for (;;) {
    const view = await rollupPlan(client, scope, {}, { interval: "1h", window });
    if (view && view.dirtyHours.length === 0) break;
    if (performance.now() - began > 3_600_000) throw new Error("the rollup did not catch up within an hour");
    await new Promise((r) => setTimeout(r, 2000));
  }
  const seconds = Math.round((performance.now() - began) / 1000);
  const count = async (query?: unknown) =>
    (await client.count({ index: ROLLUP_INDEX, body: (query ? { query } : {}) as never })).body.count;
  await client.indices.refresh({ index: ROLLUP_INDEX });
  const st = await client.indices.stats({ index: ROLLUP_INDEX, metric: "store" });
  return {
    seconds,
    rows: await count({ term: { "scaivault.tenant": scope.id } }),
    all_rows: await count(),
    mb: Math.round((st.body._all.primaries.store?.size_in_bytes ?? 0) / 1e6),
  };
}

/** The same aggregations counting documents (no rollup weights): what a team would send. */
function plainCounts(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(plainCounts);
  if (typeof body !== "object" || body === null) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === "n" && typeof v === "object" && v !== null && "sum" in v) continue;
    if (k === "order" && typeof v === "object" && v !== null && "n" in v) continue;
    out[k] = plainCounts(v);
  }
  return out;
}
