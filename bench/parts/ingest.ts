/**
 * Ingest, two comparisons in the same rounds, sides alternating round by round:
 *  - through the API (POST /v1/audit/events) against the same documents bulk-created straight into
 *    the stream (same ids and mapping): what the service's path costs;
 *  - the same documents bulk-created into a fresh index of the service's template against a fresh
 *    naive index (dynamic mappings; the documents as a pipeline ships them, without the service's
 *    text copy): what the index design costs. Each fresh index is measured, sized and deleted;
 *  - API against direct again with OpenSearch on one core and the service (and this process) on
 *    the other, as when the service runs on hosts of its own: on the shared machine the service's
 *    CPU is taken from OpenSearch, which sets the first ratio; here OpenSearch has the same core on
 *    both sides. Only where both processes are on this machine and it has two cores or more.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { cpus } from "node:os";
import { mintToken } from "../../dev/token.ts";
import { take } from "../../scripts/synthetic.ts";
import { normalize, toDocument } from "../../src/events/event.mapping.ts";
import type { IngestEvent } from "../../src/events/event.schema.ts";
import { bulkBody } from "../../src/features/ingest/ingest.bulk.ts";
import { BULK_FILTER } from "../../src/features/ingest/ingest.service.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";
import { median, runConcurrently } from "../support.ts";
import { type BenchContext, type PartResult, ratio } from "./part.ts";

const EVENTS = 100_000;
const BATCH = 1000;
const CLIENTS = 4;
const ROUNDS = 5;
const WARM_UP = 50_000;

type Side = "api" | "direct" | "template" | "naive" | "api_own_core" | "direct_own_core";

export async function ingest(ctx: BenchContext): Promise<PartResult> {
  const { env, client } = ctx;
  const template = JSON.parse(
    await readFile(new URL("../../index-templates/audit-events.json", import.meta.url), "utf8"),
  ) as { template: { settings: { index: Record<string, unknown> }; mappings: unknown } };

  const batches = <T>(items: T[]): T[][] => {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
    return out;
  };
  const bulk = (bodies: string[]) =>
    runConcurrently(
      bodies.map((body) => async () => {
        const res = await client.bulk({ body: body as never, filter_path: BULK_FILTER });
        if (res.body.errors)
          throw new Error(`bulk had item errors: ${JSON.stringify(res.body).slice(0, 300)}`);
      }),
      CLIENTS,
    );

  const sides: Record<Side, (tenant: string, events: Record<string, unknown>[]) => Promise<number>> = {
    api: async (tenant, events) => {
      const token = await mintToken(env.secret, {
        sub: "service_account:bench",
        tenant,
        scope: "audit:write",
      });
      // Bodies are serialized before the clock starts, as the other sides' are.
      const bodies = batches(events).map((b) => ({ count: b.length, body: JSON.stringify({ events: b }) }));
      return runConcurrently(
        bodies.map((b) => async () => {
          const res = await fetch(`${env.apiUrl}/v1/audit/events`, {
            method: "POST",
            body: b.body,
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          });
          const out = (await res.json()) as { accepted?: number };
          if (res.status !== 200 || out.accepted !== b.count)
            throw new Error(`API answered ${res.status}: ${JSON.stringify(out).slice(0, 300)}`);
        }),
        CLIENTS,
      );
    },
    direct: (tenant, events) => {
      const ingested = new Date().toISOString();
      const normal = events.map((e) => normalize(e as IngestEvent, () => "x").event);
      return bulk(batches(normal).map((b) => bulkBody(AUDIT_STREAM, tenant, b, ingested)));
    },
    template: (tenant, events) => fresh("template", tenant, events),
    naive: (tenant, events) => fresh("naive", tenant, events),
    api_own_core: (tenant, events) => onOwnCores(() => sides.api(tenant, events)),
    direct_own_core: (tenant, events) => onOwnCores(() => sides.direct(tenant, events)),
  };

  // OpenSearch's process (every thread) on CPU 0; the service and this process on CPU 1.
  const osPid = Object.values((await client.nodes.info({ metric: ["process"] })).body.nodes)[0]?.process?.id;
  const ownCores = cpus().length >= 2 && typeof osPid === "number" && processExists(osPid);
  const pin = (pid: number, cpu: string) => execFileSync("taskset", ["-a", "-p", "-c", cpu, String(pid)]);
  async function onOwnCores(run: () => Promise<number>): Promise<number> {
    if (!ownCores) return run();
    const all = `0-${cpus().length - 1}`;
    pin(osPid as number, "0");
    pin(env.apiPid, "1");
    pin(process.pid, "1");
    try {
      return await run();
    } finally {
      for (const pid of [osPid as number, env.apiPid, process.pid]) pin(pid, all);
    }
  }
  const sizes: Record<string, number[]> = { template: [], naive: [] };

  /** Bulk-creates into a fresh index of one design; returns seconds, notes its size, deletes it. */
  async function fresh(design: "template" | "naive", tenant: string, events: Record<string, unknown>[]) {
    const index = `bench-ingest-${design}`;
    await client.indices.delete({ index, ignore_unavailable: true });
    const { auto_expand_replicas: _, ...settings } = template.template.settings.index;
    await client.indices.create({
      index,
      body: (design === "template"
        ? {
            settings: { index: { ...settings, number_of_replicas: 0 } },
            mappings: template.template.mappings,
          }
        : { settings: { index: { number_of_shards: 1, number_of_replicas: 0 } } }) as never,
    });
    const ingested = new Date().toISOString();
    const bodies = batches(events).map((b) => {
      let body = "";
      for (const e of b) {
        const doc = toDocument(normalize(e as IngestEvent, () => "x").event, tenant, ingested);
        if (design === "naive") delete doc.scaivault.text;
        body += `{"create":{"_index":"${index}","_id":"${tenant}:${doc.event.id}"}}\n${JSON.stringify(doc)}\n`;
      }
      return body;
    });
    const secs = await bulk(bodies);
    await client.indices.refresh({ index });
    const st = await client.indices.stats({ index, metric: "store" });
    sizes[design]?.push((st.body._all.primaries.store?.size_in_bytes ?? 0) / 1e6);
    await client.indices.delete({ index });
    return secs;
  }

  // Warm-up (JIT on both sides, OpenSearch's first segments), not measured. 10,000 events per side
  // were too few: OpenSearch still spent 2–3× its later CPU per event in the first measured round.
  const warm = take(WARM_UP, { seed: 7, tenant: "warm", days: 30, end: new Date() });
  for (const side of Object.keys(sides) as Side[])
    if (ownCores || !side.endsWith("own_core")) await sides[side](`bench-warm-${side}`, warm);

  /**
   * CPU seconds used so far by the service (its own metric) and by OpenSearch (node stats): on a
   * machine they share, the API's ratio is set by what each costs per event, which wall-clock rates
   * on a noisy machine show less steadily.
   */
  const cpuSeconds = async () => {
    const text = await (await fetch(`${env.apiUrl}/metrics`)).text();
    const nodes = await client.nodes.stats({ metric: ["process"] });
    return {
      service: Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]),
      opensearch:
        Object.values(nodes.body.nodes).reduce((sum, n) => sum + (n.process?.cpu?.total_in_millis ?? 0), 0) /
        1000,
    };
  };

  const rates: Record<Side, number[]> = {
    api: [],
    direct: [],
    template: [],
    naive: [],
    api_own_core: [],
    direct_own_core: [],
  };
  const cpu: Record<Side, { service: number[]; opensearch: number[] }> = {
    api: { service: [], opensearch: [] },
    direct: { service: [], opensearch: [] },
    template: { service: [], opensearch: [] },
    naive: { service: [], opensearch: [] },
    api_own_core: { service: [], opensearch: [] },
    direct_own_core: { service: [], opensearch: [] },
  };
  const runId = Date.now().toString(36);
  for (let round = 0; round < ROUNDS; round++) {
    const events = take(EVENTS, { seed: 100 + round, tenant: "bench", days: 30, end: new Date() });
    const order: Side[] = [
      ...(round % 2 ? ["direct", "api", "naive", "template"] : ["api", "direct", "template", "naive"]),
      ...(ownCores
        ? round % 2
          ? ["direct_own_core", "api_own_core"]
          : ["api_own_core", "direct_own_core"]
        : []),
    ] as Side[];
    for (const side of order) {
      const before = await cpuSeconds();
      const secs = await sides[side](`bench-${runId}-${side}-${round}`, events);
      const after = await cpuSeconds();
      const perEvent = (k: "service" | "opensearch") => ((after[k] - before[k]) * 1e6) / events.length;
      rates[side].push(events.length / secs);
      cpu[side].service.push(perEvent("service"));
      cpu[side].opensearch.push(perEvent("opensearch"));
      console.log(
        `  round ${round + 1} ${side.padEnd(8)} ${Math.round(events.length / secs)} events/s, ` +
          `CPU per event: service ${perEvent("service").toFixed(1)} µs, OpenSearch ${perEvent("opensearch").toFixed(1)} µs`,
      );
    }
  }
  const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(median(v))])) as Record<
    Side,
    number
  >;
  const perRound = (a: Side, b: Side) => median(rates[a].map((x, i) => x / (rates[b][i] as number)));
  return {
    tables: [
      {
        title: `Ingest (${EVENTS.toLocaleString("en")} events per side per round, batches of ${BATCH}, ${CLIENTS} clients, median of ${ROUNDS} rounds; events/s)`,
        head: ["path", "events/s", "compared with", "ratio (median per round)"],
        rows: [
          [
            "API, POST /v1/audit/events",
            m.api,
            "direct bulk into the stream",
            `${perRound("api", "direct").toFixed(2)}×`,
          ],
          ["direct bulk into the stream", m.direct, "", ""],
          ...(ownCores
            ? [
                [
                  "API, service on a core of its own",
                  m.api_own_core,
                  "direct bulk, OpenSearch on the same one core",
                  `${perRound("api_own_core", "direct_own_core").toFixed(2)}×`,
                ],
                ["direct bulk, OpenSearch on one core", m.direct_own_core, "", ""],
              ]
            : []),
          [
            "bulk into a fresh index of the template",
            m.template,
            "fresh naive index",
            `${perRound("template", "naive").toFixed(2)}×`,
          ],
          ["bulk into a fresh naive index", m.naive, "", ""],
          [
            "on disk after a refresh, MB",
            `${median(sizes.template as number[]).toFixed(1)} (template)`,
            `${median(sizes.naive as number[]).toFixed(1)} (naive)`,
            ratio(median(sizes.template as number[]), median(sizes.naive as number[])),
          ],
        ],
      },
      {
        title:
          "CPU per event on the shared machine (µs, median of the rounds): the service's and OpenSearch's",
        head: ["path", "service", "OpenSearch", "together"],
        rows: (Object.keys(cpu) as Side[])
          .filter((side) => rates[side].length > 0)
          .map((side) => {
            const service = median(cpu[side].service);
            const opensearch = median(cpu[side].opensearch);
            return [side, service.toFixed(1), opensearch.toFixed(1), (service + opensearch).toFixed(1)];
          }),
      },
    ],
    data: {
      cpu_us_per_event: cpu,
      events_per_side: EVENTS,
      batch: BATCH,
      clients: CLIENTS,
      rates,
      median: m,
      fresh_index_mb: sizes,
    },
  };
}

const processExists = (pid: number) => existsSync(`/proc/${pid}`);
