/**
 * `npm run bench:ingest [-- --events 100000 --batch 1000 --clients 4 --rounds 5]`
 * Events per second through POST /v1/audit/events against the same documents bulk-indexed straight
 * into OpenSearch (bulk create, same ids and mapping), in the same run, alternating the two sides
 * round by round so drift in the machine hits both. Prints both rates and the ratio, and writes
 * bench/results/ingest.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { mintToken } from "../dev/token.ts";
import { take } from "../scripts/synthetic.ts";
import { normalize } from "../src/events/event.mapping.ts";
import type { IngestEvent } from "../src/events/event.schema.ts";
import { bulkBody } from "../src/features/ingest/ingest.bulk.ts";
import { BULK_FILTER } from "../src/features/ingest/ingest.service.ts";
import { createOpenSearchClient } from "../src/opensearch/client.ts";
import { AUDIT_STREAM } from "../src/opensearch/names.ts";
import { benchEnv, median, runConcurrently } from "./support.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    batch: { type: "string", default: "1000" },
    clients: { type: "string", default: "4" },
    rounds: { type: "string", default: "5" },
  },
});
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);
const CLIENTS = Number(values.clients);
const ROUNDS = Number(values.rounds);

const env = await benchEnv();
const client = createOpenSearchClient({ url: env.opensearchUrl });

function batches<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

/** Through the API: JSON batches with a bearer token, as a client would send them. */
async function viaApi(tenant: string, events: Record<string, unknown>[]): Promise<number> {
  const token = await mintToken(env.secret, { sub: "service_account:bench", tenant, scope: "audit:write" });
  const bodies = batches(events).map((b) => JSON.stringify({ events: b }));
  const secs = await runConcurrently(
    bodies.map((body) => async () => {
      const res = await fetch(`${env.apiUrl}/v1/audit/events`, {
        method: "POST",
        body,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      });
      const out = (await res.json()) as { accepted?: number };
      if (res.status !== 200 || out.accepted !== BATCH)
        throw new Error(`API answered ${res.status}: ${JSON.stringify(out).slice(0, 300)}`);
    }),
    CLIENTS,
  );
  return events.length / secs;
}

/** Straight into OpenSearch: the same documents and ids the API writes, already mapped. */
async function direct(tenant: string, events: Record<string, unknown>[]): Promise<number> {
  const ingested = new Date().toISOString();
  const bodies = batches(events).map((b) =>
    bulkBody(
      AUDIT_STREAM,
      tenant,
      b.map((e) => normalize(e as IngestEvent, () => "x").event),
      ingested,
    ),
  );
  const secs = await runConcurrently(
    bodies.map((body) => async () => {
      const res = await client.bulk({ body: body as never, filter_path: BULK_FILTER });
      if (res.body.errors) throw new Error("direct bulk had item errors");
    }),
    CLIENTS,
  );
  return events.length / secs;
}

console.log(
  `ingest benchmark: ${EVENTS} events per side per round, batches of ${BATCH}, ${CLIENTS} concurrent clients, ${ROUNDS} rounds; ` +
    `${cpus().length} cores; OpenSearch ${env.opensearchUrl}`,
);
// Warm-up (JIT on both sides, OpenSearch's first segments and merges), not measured.
for (let i = 0; i < 2; i++) {
  await viaApi(
    `bench-warmup-api-${i}`,
    take(20 * BATCH, { seed: 10 + i, tenant: "warm", days: 30, end: new Date() }),
  );
  await direct(
    `bench-warmup-direct-${i}`,
    take(20 * BATCH, { seed: 20 + i, tenant: "warm", days: 30, end: new Date() }),
  );
}

const apiRates: number[] = [];
const directRates: number[] = [];
const ratios: number[] = [];
const runId = Date.now().toString(36);
for (let round = 0; round < ROUNDS; round++) {
  // Each side gets fresh events (new ids) of the same shape and size.
  const opts = { seed: 100 + round, tenant: "bench", days: 30, end: new Date() };
  const events = take(EVENTS, opts);
  const first = round % 2 === 0 ? "api" : "direct";
  for (const side of first === "api" ? ["api", "direct"] : ["direct", "api"]) {
    const tenant = `bench-${runId}-${side}-${round}`;
    const rate = side === "api" ? await viaApi(tenant, events) : await direct(tenant, events);
    (side === "api" ? apiRates : directRates).push(rate);
    console.log(`round ${round + 1} ${side.padEnd(6)} ${Math.round(rate)} events/s`);
  }
  ratios.push((apiRates.at(-1) as number) / (directRates.at(-1) as number));
}

const api = median(apiRates);
const raw = median(directRates);
// The ratio is taken within each round (both sides under the same conditions), then the median.
const ratio = median(ratios);
console.log(
  `\nmedian: API ${Math.round(api)} events/s, direct ${Math.round(raw)} events/s; ` +
    `API/direct per round ${ratios.map((r) => r.toFixed(2)).join(", ")}, median ${ratio.toFixed(3)} (target ≥ 0.8)`,
);
await mkdir(new URL("./results/", import.meta.url), { recursive: true });
await writeFile(
  new URL("./results/ingest.json", import.meta.url),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model },
      params: { events: EVENTS, batch: BATCH, clients: CLIENTS, rounds: ROUNDS },
      api_events_per_s: apiRates.map(Math.round),
      direct_events_per_s: directRates.map(Math.round),
      ratio_per_round: ratios.map((r) => Number(r.toFixed(3))),
      median: { api: Math.round(api), direct: Math.round(raw), ratio: Number(ratio.toFixed(3)) },
    },
    null,
    2,
  )}\n`,
);
await client.close();
await env.close();
