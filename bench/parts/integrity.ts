/**
 * What the tamper-evident log costs: sealing every stored event from scratch (the first run of a
 * sealer over existing data — the steady state seals only new events), in events/s with the CPU
 * each side spends per event; the log's size beside the stream's; and an inclusion proof through
 * the API beside fetching the same event straight from OpenSearch. The sealer runs in this
 * process, with a key made for the run; the API serves the proofs from what it wrote.
 */

import { mintToken } from "../../dev/token.ts";
import { generateSignerKey, parseSignerKey } from "../../src/features/integrity/note.ts";
import { SEALER_LEASE_ID, SealerJob } from "../../src/features/integrity/sealer.job.ts";
import { createLogger } from "../../src/logger.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX, TENANTS_INDEX } from "../../src/opensearch/names.ts";
import { timeSides } from "../support.ts";
import { type BenchContext, ms, type PartResult } from "./part.ts";

const PAGE = 1000;

export async function integrity(ctx: BenchContext): Promise<PartResult> {
  const { env, client, tenant } = ctx;
  // From scratch: the previous run's log and lease go.
  await client.deleteByQuery({
    index: INTEGRITY_INDEX,
    refresh: true,
    conflicts: "proceed",
    body: { query: { match_all: {} } } as never,
  });
  await client.delete({ index: TENANTS_INDEX, id: SEALER_LEASE_ID }).catch(() => {});
  const sealer = new SealerJob({
    client,
    log: createLogger("silent"),
    signer: parseSignerKey(generateSignerKey("scaivault.bench/audit")),
    origin: "scaivault.bench/audit",
    intervalMs: 1000,
    checkpointIntervalMs: 1000,
    pageSize: PAGE,
  });
  const osCpu = async () => {
    const nodes = await client.nodes.stats({ metric: ["process"] });
    return (
      Object.values(nodes.body.nodes).reduce((sum, n) => sum + (n.process?.cpu?.total_in_millis ?? 0), 0) /
      1000
    );
  };
  const os0 = await osCpu();
  const cpu0 = process.cpuUsage();
  const began = performance.now();
  let sealed = 0;
  for (;;) {
    const run = await sealer.runOnce();
    sealed += run.sealed;
    if (run.sealed === 0) break;
  }
  const seconds = (performance.now() - began) / 1000;
  const sealerCpu = (() => {
    const d = process.cpuUsage(cpu0);
    return (d.user + d.system) / 1e6;
  })();
  const opensearchCpu = (await osCpu()) - os0;
  const perEvent = (s: number) => ((s / Math.max(1, sealed)) * 1e6).toFixed(1);
  console.log(`  sealed ${sealed} events in ${seconds.toFixed(1)} s`);

  // Settled, as the storage table's indices: each page rewrote its logs' newest documents, and the
  // old versions stay on disk until merged away.
  await client.indices.forcemerge({ index: INTEGRITY_INDEX, max_num_segments: 1 });
  await client.indices.refresh({ index: INTEGRITY_INDEX });
  await client.indices.flush({ index: INTEGRITY_INDEX });
  const sizes = await client.indices.stats({ index: [INTEGRITY_INDEX, AUDIT_STREAM], metric: "store" });
  const mb = (name: string) =>
    Object.entries(sizes.body.indices ?? {})
      .filter(([index]) =>
        name === AUDIT_STREAM ? index.startsWith(`.ds-${AUDIT_STREAM}-`) : index === name,
      )
      .reduce((sum, [, s]) => sum + (s.primaries?.store?.size_in_bytes ?? 0), 0) /
    2 ** 20;

  // Proofs of the busiest tenant's events, spread over its history.
  const sample = await client.search({
    index: AUDIT_STREAM,
    body: {
      query: { term: { "scaivault.tenant": tenant } },
      size: 200,
      _source: ["event.id"],
      sort: [{ "@timestamp": "asc" }],
    } as never,
  });
  const ids = (sample.body.hits.hits as unknown as { _source: { event: { id: string } } }[]).map(
    (h) => h._source.event.id,
  );
  const token = await mintToken(env.secret, { sub: "user:bench", tenant, scope: "audit:read" });
  let i = 0;
  const next = () => ids[i++ % ids.length] as string;
  const m = await timeSides(
    {
      proof: async () => {
        const res = await fetch(`${env.apiUrl}/v1/audit/integrity/proofs/inclusion?event_id=${next()}`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        if (res.status !== 200) throw new Error(`proof ${res.status}: ${(await res.text()).slice(0, 200)}`);
        await res.json();
      },
      event: async () => {
        await client.search({
          index: AUDIT_STREAM,
          body: {
            query: {
              bool: { filter: [{ term: { "scaivault.tenant": tenant } }, { term: { "event.id": next() } }] },
            },
            size: 1,
          } as never,
        });
      },
    },
    { iterations: ctx.iterations, warmup: 5 },
  );
  const stream = mb(AUDIT_STREAM);
  const log = mb(INTEGRITY_INDEX);
  return {
    tables: [
      {
        title: `Integrity: sealing every stored event from scratch (pages of ${PAGE})`,
        head: ["measure", "value"],
        rows: [
          ["events sealed", sealed],
          ["events/s", Math.round(sealed / seconds)],
          ["sealer CPU per event, µs", perEvent(sealerCpu)],
          ["OpenSearch CPU per event, µs", perEvent(opensearchCpu)],
          [
            "the logs on disk once merged, MB (÷ the stream)",
            `${log.toFixed(1)} (${(log / stream).toFixed(3)}×)`,
          ],
        ],
      },
      {
        title: `Integrity: an inclusion proof (tenant ${tenant}, ms p50 / p95)`,
        head: ["request", "p50 / p95", "÷ the event alone"],
        rows: [
          [
            "inclusion proof through the API",
            `${ms(m.proof.p50)} / ${ms(m.proof.p95)}`,
            `${(m.proof.p50 / m.event.p50).toFixed(2)}×`,
          ],
          ["the event alone, straight from OpenSearch", `${ms(m.event.p50)} / ${ms(m.event.p95)}`, ""],
        ],
      },
    ],
    data: {
      sealed,
      seconds,
      sealer_cpu_s: sealerCpu,
      opensearch_cpu_s: opensearchCpu,
      log_mb: log,
      stream_mb: stream,
      proof: m.proof,
      event: m.event,
    },
  };
}
