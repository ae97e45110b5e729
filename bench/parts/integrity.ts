/**
 * What the tamper-evident log costs:
 *  - ingest through the API with sealing off (the bench's service: no key, no ingest seal, no
 *    sealer) and then on (a service with the run's key: ingest seals, its sealer appends and signs
 *    checkpoints), rounds of each in the same run; with sealing on, the lag from an event's ingest
 *    acknowledgment to the first signed checkpoint covering it, at two checkpoint intervals;
 *  - sealing every stored event from scratch (the first run of a sealer over existing data — the
 *    steady state seals only new events), in events/s with the CPU each side spends per event;
 *  - the log's size beside the stream's; an inclusion proof through the API beside fetching the
 *    same event straight from OpenSearch; an export's proof material per million records.
 * The from-scratch sealer runs in this process, with the run's key.
 */

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { mintToken } from "../../dev/token.ts";
import { take } from "../../scripts/synthetic.ts";
import { exportProofs } from "../../src/features/integrity/integrity.exports.ts";
import { generateSignerKey, parseSignerKey } from "../../src/features/integrity/note.ts";
import { SEALER_LEASE_ID, SealerJob } from "../../src/features/integrity/sealer.job.ts";
import { createLogger } from "../../src/logger.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX, TENANTS_INDEX } from "../../src/opensearch/names.ts";
import { LIFTED_BUDGETS, median, percentile, runConcurrently, timeSides } from "../support.ts";
import { type BenchContext, ms, type PartResult } from "./part.ts";

const PAGE = 1000;
/** Live ingest: events per round, per request, concurrent clients, rounds per side. */
const ROUND_EVENTS = 40_000;
const BATCH = 1000;
const CLIENTS = 4;
const ROUNDS = 3;
/** Checkpoint intervals the lag is measured at: the default, and a short one. */
const INTERVALS_MS = [10_000, 2_000];
/** Records an export's proof material is measured over. */
const PROOF_RECORDS = 200_000;

export async function integrity(ctx: BenchContext): Promise<PartResult> {
  const { env, client, tenant } = ctx;
  const keyText = generateSignerKey("scaivault.bench/audit");
  const signer = parseSignerKey(keyText);
  const keyFile = path.join(await mkdtemp(path.join(tmpdir(), "bench-integrity-")), "signing-key");
  await writeFile(keyFile, keyText, { mode: 0o600 });

  // Sealing off first: the bench's own service, no key. Its events are then sealed (as events
  // stored before the first sealer run) by the from-scratch run below.
  const off: number[] = [];
  for (let r = 0; r < ROUNDS; r++)
    off.push((await ingestRound(env.secret, env.apiUrl, "bench-live-off", r)).perSecond);

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
    signer,
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

  // Sealing on: a service with the key (ingest seals, its sealer appends and signs), per interval.
  const live: { interval: number; perSecond: number[]; lags: number[] }[] = [];
  for (const interval of INTERVALS_MS) {
    const svc = await env.anotherApi({
      ...LIFTED_BUDGETS,
      INTEGRITY_SIGNING_KEY_FILE: keyFile,
      AUDIT_LOG_ORIGIN: "scaivault.bench/audit",
      INTEGRITY_CHECKPOINT_INTERVAL_MS: String(interval),
    });
    const perSecond: number[] = [];
    const lags: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round = await ingestRound(
        env.secret,
        svc.apiUrl,
        `bench-live-on-${interval}-${Date.now()}`,
        r,
        true,
      );
      perSecond.push(round.perSecond);
      lags.push(...round.lags);
    }
    await svc.stop();
    live.push({ interval, perSecond, lags });
  }
  const onRate = median(live[0]?.perSecond ?? []);
  const offRate = median(off);

  // An export's proof material: the records of the busiest tenant's first PROOF_RECORDS events in
  // an export's order (by time), and the same tenant's `read` events only (a scattered set).
  const proofs = exportProofs(client, signer, "scaivault.bench/audit");
  const material = async (filter: object[]) => {
    const runs: [number | null, number][] = [];
    let after: unknown[] | undefined;
    let records = 0;
    while (records < PROOF_RECORDS) {
      const page = await client.search({
        index: AUDIT_STREAM,
        body: {
          query: { bool: { filter: [{ term: { "scaivault.tenant": tenant } }, ...filter] } },
          sort: [{ "@timestamp": "asc" }, { "event.id": "asc" }],
          size: 1000,
          _source: ["event.id"],
          ...(after ? { search_after: after } : {}),
        } as never,
      });
      const hits = page.body.hits.hits as unknown as {
        _source: { event: { id: string } };
        sort: unknown[];
      }[];
      if (hits.length === 0) break;
      for (const i of await proofs.leaves(
        tenant,
        hits.map((h) => h._source.event.id),
        0,
        AbortSignal.timeout(60_000),
      )) {
        const last = runs.at(-1);
        if (last && (last[0] === null ? i === null : i !== null && last[0] + last[1] === i)) last[1]++;
        else runs.push([i, 1]);
      }
      records += hits.length;
      after = hits.at(-1)?.sort;
    }
    const spans = runs
      .filter((r): r is [number, number] => r[0] !== null)
      .map(([a, n]) => [a, a + n] as [number, number])
      .sort((a, b) => a[0] - b[0]);
    const set: [number, number][] = [];
    for (const [lo, hi] of spans) {
      const last = set.at(-1);
      if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
      else set.push([lo, hi]);
    }
    const proven = await proofs.prove(tenant, set, 0, AbortSignal.timeout(600_000));
    const bytes = Buffer.byteLength(JSON.stringify({ leaves: runs, proof: proven.proof }));
    return {
      records,
      runs: runs.length,
      hashes: proven.proof.length,
      bytes,
      perMillion: (bytes / records) * 1e6,
    };
  };
  const contiguous = await material([]);
  const scattered = await material([{ term: { "event.action": "read" } }]);
  const kb = (b: number) => (b / 1024).toFixed(1);

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
        title: `Integrity: ingest through the API with sealing on ÷ off (${ROUNDS} rounds of ${ROUND_EVENTS.toLocaleString("en")} events each, ${CLIENTS} clients, events/s median)`,
        head: ["side", "events/s", "÷ off"],
        rows: [
          ["sealing off (no key: no ingest seal, no sealer)", Math.round(offRate), ""],
          ...live.map(({ interval, perSecond }) => [
            `sealing on (checkpoints every ${interval / 1000} s at most)`,
            Math.round(median(perSecond)),
            `${(median(perSecond) / offRate).toFixed(2)}×`,
          ]),
        ],
        note: "The rounds of each side run in turn, not interleaved: the off side's events must be stored before the first sealer run to be sealed (unsealed ones stored later are refused).",
      },
      {
        title:
          "Integrity: sealing lag at full ingest, from the ingest acknowledgment to the first signed checkpoint covering the event (s)",
        head: ["checkpoint interval", "p50", "p95", "events sampled"],
        rows: live.map(({ interval, lags }) => [
          `${interval / 1000} s`,
          (percentile(lags, 50) / 1000).toFixed(2),
          (percentile(lags, 95) / 1000).toFixed(2),
          lags.length,
        ]),
      },
      {
        title: `Integrity: an export's proof material (tenant ${tenant}, its oldest records in an export's order)`,
        head: ["records", "leaf runs", "proof hashes", "KB", "KB per million records"],
        rows: [
          [
            `${contiguous.records} (all)`,
            contiguous.runs,
            contiguous.hashes,
            kb(contiguous.bytes),
            kb(contiguous.perMillion),
          ],
          [
            `${scattered.records} (action=read)`,
            scattered.runs,
            scattered.hashes,
            kb(scattered.bytes),
            kb(scattered.perMillion),
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
      ingest_off_per_s: off,
      live: live.map(({ interval, perSecond, lags }) => ({
        interval_ms: interval,
        per_s: perSecond,
        lag_p50_ms: percentile(lags, 50),
        lag_p95_ms: percentile(lags, 95),
        sampled: lags.length,
      })),
      proof_material: { contiguous, scattered },
    },
  };
}

/**
 * One round: ROUND_EVENTS synthetic events posted to `apiUrl` for `tenant`. With `lag`, the first
 * event of each request is followed until a signed checkpoint covers it: the checkpoint is polled
 * every 100 ms during and after the round, and each sampled event's leaf index is asked for once
 * it is sealed.
 */
async function ingestRound(
  secret: string,
  apiUrl: string,
  tenant: string,
  round: number,
  lag = false,
): Promise<{ perSecond: number; lags: number[] }> {
  const write = await mintToken(secret, { sub: "service_account:bench", tenant, scope: "audit:write" });
  const read = await mintToken(secret, { sub: "user:bench", tenant, scope: "audit:read" });
  const events = take(ROUND_EVENTS, { seed: 1000 + round, tenant, days: 1, end: new Date() }).map((e, i) => ({
    ...e,
    id: `${tenant}-${round}-${i}`,
  }));
  const bodies: { first: string; body: string }[] = [];
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    bodies.push({ first: batch[0]?.id as string, body: JSON.stringify({ events: batch }) });
  }
  const acked: { id: string; at: number }[] = [];
  const sizes: { at: number; size: number }[] = [];
  let polling = lag;
  const poller = (async () => {
    while (polling) {
      const res = await fetch(`${apiUrl}/v1/audit/integrity/checkpoint`, {
        headers: { Authorization: `Bearer ${read}` },
      });
      if (res.status === 200)
        sizes.push({ at: performance.now(), size: ((await res.json()) as { size: number }).size });
      else await res.text();
      await sleep(100);
    }
  })();
  const began = performance.now();
  await runConcurrently(
    bodies.map((b) => async () => {
      const res = await fetch(`${apiUrl}/v1/audit/events`, {
        method: "POST",
        body: b.body,
        headers: { Authorization: `Bearer ${write}`, "Content-Type": "application/json" },
      });
      if (res.status !== 200)
        throw new Error(`API answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      await res.json();
      acked.push({ id: b.first, at: performance.now() });
    }),
    CLIENTS,
  );
  const perSecond = events.length / ((performance.now() - began) / 1000);
  if (!lag) return { perSecond, lags: [] };
  // Until a checkpoint covers every event of the round (or a minute passes).
  const deadline = performance.now() + 60_000;
  while ((sizes.at(-1)?.size ?? 0) < events.length && performance.now() < deadline) await sleep(100);
  polling = false;
  await poller;
  const lags: number[] = [];
  for (const { id, at } of acked) {
    const res = await fetch(`${apiUrl}/v1/audit/integrity/proofs/inclusion?event_id=${id}`, {
      headers: { Authorization: `Bearer ${read}` },
    });
    if (res.status !== 200) continue;
    const leaf = ((await res.json()) as { leaf_index: number }).leaf_index;
    const covered = sizes.find((s) => s.size > leaf);
    if (covered) lags.push(covered.at - at);
  }
  return { perSecond, lags };
}
