/**
 * Summaries and per-entity series (what dashboards and anomaly-baseline jobs ask): through the API,
 * the same aggregation sent straight to OpenSearch, and the same aggregation on the naive index.
 * The shard request cache is cleared before every timed request, or the run would time the cache.
 */
import { mintToken } from "../../dev/token.ts";
import { defaultInterval, type Interval } from "../../src/features/summary/intervals.ts";
import { seriesSearch, summarySearch } from "../../src/features/summary/summary.query.ts";
import { FILTER_PARAMS, parseQuery } from "../../src/filters/filters.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";
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
  const rows = [];
  const data: Record<string, unknown> = {};
  for (const q of QUESTIONS) {
    const params = new URLSearchParams(q.qs);
    const extra = Object.fromEntries(["interval", "top", "group_by", "limit"].map((k) => [k, params.get(k)]));
    for (const k of Object.keys(extra)) params.delete(k);
    const { filters } = parseQuery(params, { allowed: FILTER_PARAMS, now: end, paging: false });
    const window = { from: Date.parse(filters.from as string), to: Date.parse(filters.to as string) };
    const interval = (extra.interval as Interval | null) ?? defaultInterval(window.to - window.from);
    const body =
      q.path === "summary"
        ? summarySearch(scope, filters, { interval, window, top: Number(extra.top ?? 10) })
        : seriesSearch(scope, filters, {
            groupBy: "identity_id",
            interval,
            window,
            limit: Number(extra.limit),
          });
    const post = async (index: string, b: unknown) => {
      const res = await fetch(`${env.opensearchUrl}/${index}/_search`, {
        method: "POST",
        body: JSON.stringify(b),
        headers: { "Content-Type": "application/json" },
      });
      if (res.status !== 200) throw new Error(`${index}: ${res.status} ${(await res.text()).slice(0, 300)}`);
      await res.json();
    };
    const naive = naiveBody(body);
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
        naive: () => post(NAIVE_INDEX, naive),
      },
      {
        iterations: Math.max(5, Math.round(ctx.iterations / 10)),
        warmup: 3,
        before: () => fetch(`${env.opensearchUrl}/_cache/clear?request=true`, { method: "POST" }),
      },
    );
    data[q.name] = { request: `/v1/audit/${q.path}?${q.qs}`, ...m };
    rows.push([
      q.name,
      `${ms(m.api.p50)} / ${ms(m.api.p95)}`,
      `${ms(m.direct.p50)} / ${ms(m.direct.p95)}`,
      `${ms(m.naive.p50)} / ${ms(m.naive.p95)}`,
      ratio(m.naive.p50, m.direct.p50),
      ratio(m.api.p50, m.direct.p50),
    ]);
    console.log(`  ${rows.at(-1)?.join(" | ")}`);
  }
  return {
    tables: [
      {
        title: `Summaries and series (tenant ${tenant}, ms p50 / p95, request cache cleared)`,
        head: ["question", "API", "direct", "naive", "naive ÷ direct", "API ÷ direct"],
        rows,
      },
    ],
    data,
  };
}
