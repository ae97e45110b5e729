/**
 * Newest-first pages and trails, the busiest tenant, 100 rows: through the API, the same body sent
 * straight to OpenSearch ("direct"), and the same question asked of the naive index, the three
 * interleaved request by request, request cache off.
 */
import { mintToken } from "../../dev/token.ts";
import { readDocument, type SortKey } from "../../src/events/event.mapping.ts";
import { eventsSearch } from "../../src/features/query/query.query.ts";
import { FILTER_PARAMS, type Filters, parseQuery } from "../../src/filters/filters.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";
import { cutoff, DEFAULT_RETENTION_DAYS } from "../../src/tenancy/retention.ts";
import { NAIVE_INDEX, naiveBody } from "../naive.ts";
import { timeSides } from "../support.ts";
import { type BenchContext, ms, type PartResult, ratio } from "./part.ts";

const WHO = "service_account:payments-0";
const LIMIT = 100;

export interface Question {
  name: string;
  path: string;
  qs: string;
  fixed?: Filters;
  /** Pages to walk before the timed one (search_after). */
  skip?: number;
}

/** The questions the issue names, relative to the seed's end. */
export function questions(end: Date): Question[] {
  const day = (n: number) => new Date(end.getTime() - n * 86_400_000).toISOString().slice(0, 10);
  const incident = new Date(end.getTime() - 6 * 86_400_000 + 14.5 * 3_600_000);
  const iso = (d: Date) => d.toISOString().replace(".000", "");
  return [
    {
      name: "incident window, 10 min",
      path: "/v1/audit/logs",
      qs: `from=${iso(incident)}&to=${iso(new Date(incident.getTime() + 600_000))}`,
    },
    {
      name: "identity trail, 90 days",
      path: `/v1/audit/identities/${encodeURIComponent(WHO)}`,
      qs: `from=${day(90)}T00:00:00Z`,
      fixed: { identityId: WHO },
    },
    {
      name: "secret trail",
      path: "/v1/audit/secrets/prod/payments/db-password",
      qs: "",
      fixed: { path: "prod/payments/db-password" },
    },
    {
      name: "failed reads, 1 day",
      path: "/v1/audit/logs",
      qs: `action=read&success=false&from=${day(2)}T00:00:00Z&to=${day(1)}T00:00:00Z`,
    },
    { name: "path prefix, 90 days", path: "/v1/audit/logs", qs: "path_prefix=prod/billing" },
    { name: "CIDR /16, 90 days", path: "/v1/audit/logs", qs: "source_ip=10.37.0.0/16" },
    { name: "page 20 via search_after", path: "/v1/audit/logs", qs: "", skip: 19 },
  ];
}

type Hits = { hits: { hits: { _source: unknown; sort: unknown[] }[] } };

export async function query(ctx: BenchContext): Promise<PartResult> {
  const { env, tenant, end } = ctx;
  const token = await mintToken(env.secret, { sub: "user:bench", tenant, scope: "audit:read" });
  const now = new Date();
  const search = async (index: string, body: unknown): Promise<Hits> => {
    const res = await fetch(`${env.opensearchUrl}/${index}/_search?request_cache=false`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    });
    if (res.status !== 200) throw new Error(`OpenSearch ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return (await res.json()) as Hits;
  };
  const rows = [];
  const data: Record<string, unknown> = {};
  for (const q of questions(end)) {
    const filters: Filters = {
      ...parseQuery(new URLSearchParams(q.qs), { allowed: FILTER_PARAMS, now }).filters,
      ...q.fixed,
    };
    const scope = { id: tenant, since: cutoff(DEFAULT_RETENTION_DAYS, now) };
    // Walk to the timed page on each side first (untimed), as a client paging would.
    let after: SortKey | undefined;
    let naiveAfter: unknown[] | undefined;
    let cursor = "";
    for (let p = 0; p < (q.skip ?? 0); p++) {
      const hits = (await search(AUDIT_STREAM, eventsSearch(scope, filters, { limit: LIMIT, after }))).hits
        .hits;
      after = readDocument(hits[LIMIT - 1]?._source).sortKey;
      const naive = naiveBody(eventsSearch(scope, filters, { limit: LIMIT })) as Record<string, unknown>;
      naiveAfter = (
        await search(NAIVE_INDEX, { ...naive, ...(naiveAfter ? { search_after: naiveAfter } : {}) })
      ).hits.hits[LIMIT - 1]?.sort;
      const page = (await (
        await fetch(`${env.apiUrl}${q.path}?${q.qs}&limit=${LIMIT}${cursor && `&cursor=${cursor}`}`, {
          headers: { Authorization: `Bearer ${token}` },
        })
      ).json()) as { next_cursor: string };
      cursor = encodeURIComponent(page.next_cursor);
    }
    const directBody = eventsSearch(scope, filters, { limit: LIMIT, ...(after ? { after } : {}) });
    const naiveQuery = {
      ...(naiveBody(eventsSearch(scope, filters, { limit: LIMIT })) as Record<string, unknown>),
      ...(naiveAfter ? { search_after: naiveAfter } : {}),
    };
    const counts: Record<string, number> = {};
    const m = await timeSides(
      {
        api: async () => {
          const res = await fetch(
            `${env.apiUrl}${q.path}?${q.qs}&limit=${LIMIT}${cursor && `&cursor=${cursor}`}`,
            {
              headers: { Authorization: `Bearer ${token}` },
            },
          );
          const body = (await res.json()) as { entries: unknown[] };
          if (res.status !== 200) throw new Error(`API ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
          counts.api = body.entries.length;
        },
        direct: async () => {
          counts.direct = Math.min(LIMIT, (await search(AUDIT_STREAM, directBody)).hits.hits.length);
        },
        naive: async () => {
          counts.naive = Math.min(LIMIT, (await search(NAIVE_INDEX, naiveQuery)).hits.hits.length);
        },
      },
      { iterations: ctx.iterations, warmup: 10 },
    );
    if (counts.api !== counts.direct || counts.direct !== counts.naive)
      throw new Error(`${q.name}: the sides found different counts ${JSON.stringify(counts)}`);
    const { api, direct, naive } = m;
    data[q.name] = { request: `${q.path}?${q.qs}`, hits: counts.api, api, direct, naive };
    rows.push([
      q.name,
      counts.api as number,
      `${ms(api.p50)} / ${ms(api.p95)}`,
      `${ms(direct.p50)} / ${ms(direct.p95)}`,
      `${ms(naive.p50)} / ${ms(naive.p95)}`,
      ratio(naive.p50, direct.p50),
      ratio(api.p50, direct.p50),
    ]);
    console.log(`  ${rows.at(-1)?.join(" | ")}`);
  }
  return {
    tables: [
      {
        title: `Pages and trails (tenant ${tenant}, ${LIMIT} rows, ms p50 / p95)`,
        head: ["question", "rows", "API", "direct", "naive", "naive ÷ direct", "API ÷ direct"],
        rows,
        note: "naive ÷ direct above 1 means the service's index design is that many times faster.",
      },
    ],
    data,
  };
}
