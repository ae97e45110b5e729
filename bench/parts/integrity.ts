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
import { addRuns, type LeafRuns, leafIntervals } from "../../src/features/exports/exports.runner.ts";
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
/** The steady rate the lag is also measured at (events/s). */
const PACED_RATE = 2_000;

export async function integrity(ctx: BenchContext): Promise<PartResult> {
  const { env, client, tenant } = ctx;
  const keyText = generateSignerKey("scaivault.bench/audit");
  const signer = parseSignerKey(keyText);
  const keyFile = path.join(await mkdtemp(path.join(tmpdir(), "bench-integrity-")), "signing-key");
  await writeFile(keyFile, keyText, { mode: 0o600 });

  // The live rounds' events of earlier runs go (they would count in the storage table).
  await dropLiveEvents(client);

  // Sealing off first: a service without a key. Its events are then sealed (as events stored
  // before the first sealer run) by the from-scratch run below; ones stored after it would be
  // refused, so the two sides' rounds run in turn, each after a warm-up round and settled merges.
  const offRounds = async (label: string) => {
    const svc = await env.anotherApi({ ...LIFTED_BUDGETS });
    await settled(client);
    await ingestRound(env.secret, svc.apiUrl, `bench-live-warm-${label}`, 0, { events: 10_000 });
    const rates: number[] = [];
    for (let r = 0; r < ROUNDS; r++)
      rates.push((await ingestRound(env.secret, svc.apiUrl, `bench-live-${label}`, r)).perSecond);
    await svc.stop();
    return rates;
  };
  const off = await offRounds("off-before");

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
  const live: { interval: number; perSecond: number[]; lags: number[]; tenant: string; paced: number[] }[] =
    [];
  for (const interval of INTERVALS_MS) {
    const svc = await env.anotherApi({
      ...LIFTED_BUDGETS,
      INTEGRITY_SIGNING_KEY_FILE: keyFile,
      AUDIT_LOG_ORIGIN: "scaivault.bench/audit",
      INTEGRITY_CHECKPOINT_INTERVAL_MS: String(interval),
    });
    const perSecond: number[] = [];
    const lags: number[] = [];
    const on = `bench-live-on-${interval / 1000}s-${Date.now()}`;
    await settled(client);
    await ingestRound(env.secret, svc.apiUrl, `${on}-warm`, 0, { events: 10_000 });
    for (let r = 0; r < ROUNDS; r++) {
      const round = await ingestRound(env.secret, svc.apiUrl, on, r, { lag: true });
      perSecond.push(round.perSecond);
      lags.push(...round.lags);
    }
    // The same at a steady PACED_RATE events/s, below what the machine takes at full rate.
    const paced = await ingestRound(env.secret, svc.apiUrl, `${on}-paced`, 0, {
      lag: true,
      rate: PACED_RATE,
    });
    await svc.stop();
    live.push({ interval, perSecond, lags, tenant: on, paced: paced.lags });
  }
  // Off again after the on rounds (no sealer runs any more: nothing refuses these), so neither side
  // always meets the colder cluster.
  off.push(...(await offRounds("off-after")));
  const offRate = median(off);

  // An export's proof material: the records of the busiest tenant's first PROOF_RECORDS events in
  // an export's order (by time), and the same tenant's `read` events only (a scattered set).
  const proofs = exportProofs(client, signer, "scaivault.bench/audit");
  const material = async (of: string, filter: object[]) => {
    const runs: LeafRuns = [];
    let after: unknown[] | undefined;
    let records = 0;
    while (records < PROOF_RECORDS) {
      const page = await client.search({
        index: AUDIT_STREAM,
        body: {
          query: { bool: { filter: [{ term: { "scaivault.tenant": of } }, ...filter] } },
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
      const ids = hits.map((h) => h._source.event.id);
      addRuns(runs, await proofs.leaves(of, ids, 0, AbortSignal.timeout(60_000)));
      records += hits.length;
      after = hits.at(-1)?.sort;
    }
    const set = leafIntervals(runs);
    const proven = await proofs.prove(of, set, 0, AbortSignal.timeout(600_000));
    const bytes = Buffer.byteLength(JSON.stringify({ leaves: runs, proof: proven.proof }));
    return {
      records,
      runs: runs.length,
      hashes: proven.proof.length,
      bytes,
      perMillion: (bytes / records) * 1e6,
    };
  };
  const liveTenant = live[0]?.tenant as string;
  const ingested = await material(liveTenant, []);
  const ingestedRead = await material(liveTenant, [{ term: { "event.action": "read" } }]);
  const seeded = await material(tenant, []);
  const kb = (b: number) => (b / 1024).toFixed(1);
  const sized = (m: Awaited<ReturnType<typeof material>>) => [
    m.records,
    m.runs,
    m.hashes,
    kb(m.bytes),
    kb(m.perMillion),
  ];
  const spread = (lags: number[]) => [
    (percentile(lags, 50) / 1000).toFixed(2),
    (percentile(lags, 95) / 1000).toFixed(2),
    lags.length,
  ];

  await dropLiveEvents(client);
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
          [
            `sealing off (no key: no ingest seal, no sealer; ${ROUNDS} rounds before and ${ROUNDS} after)`,
            Math.round(offRate),
            "",
          ],
          ...live.map(({ interval, perSecond }) => [
            `sealing on (checkpoints every ${interval / 1000} s at most)`,
            Math.round(median(perSecond)),
            `${(median(perSecond) / offRate).toFixed(2)}×`,
          ]),
        ],
        note: "Sides in turn, not interleaved (the off side's events must be stored before the first sealer run, or while none runs, not to be refused): off, on at each interval, off again.",
      },
      {
        title:
          "Integrity: sealing lag at full ingest, from the ingest acknowledgment to the first signed checkpoint covering the event (s)",
        head: ["checkpoint interval, ingest", "p50", "p95", "events sampled"],
        rows: live.flatMap(({ interval, lags, paced }) => [
          [`${interval / 1000} s, full rate`, ...spread(lags)],
          [`${interval / 1000} s, ${PACED_RATE.toLocaleString("en")} events/s`, ...spread(paced)],
        ]),
      },
      {
        title:
          "Integrity: an export's proof material (leaf runs and multi-proof as in the manifest; records in an export's order)",
        head: ["export", "records", "leaf runs", "proof hashes", "KB", "KB per million records"],
        rows: [
          ["events ingested as they happen (the live rounds), all", ...sized(ingested)],
          ["the same, action=read", ...sized(ingestedRead)],
          [`seeded tenant ${tenant} (stored in random time order: worst case)`, ...sized(seeded)],
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
      live: live.map(({ interval, perSecond, lags, paced }) => ({
        interval_ms: interval,
        per_s: perSecond,
        lag_p50_ms: percentile(lags, 50),
        lag_p95_ms: percentile(lags, 95),
        sampled: lags.length,
        paced_rate: PACED_RATE,
        paced_lag_p50_ms: percentile(paced, 50),
        paced_lag_p95_ms: percentile(paced, 95),
      })),
      proof_material: { ingested, ingested_read: ingestedRead, seeded },
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
  opts: { lag?: boolean; rate?: number; events?: number } = {},
): Promise<{ perSecond: number; lags: number[] }> {
  const lag = opts.lag ?? false;
  const write = await mintToken(secret, { sub: "service_account:bench", tenant, scope: "audit:write" });
  const read = await mintToken(secret, { sub: "user:bench", tenant, scope: "audit:read" });
  // A day per round, in time order: events arrive as they happen.
  const end = new Date(Date.UTC(2026, 10, 1) + round * 86_400_000);
  const events = take(opts.events ?? ROUND_EVENTS, { seed: 1000 + round, tenant, days: 1, end })
    .sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)))
    .map((e, i) => ({ ...e, id: `${tenant}-${round}-${i}` }));
  const bodies: { first: string; body: string }[] = [];
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    bodies.push({ first: batch[0]?.id as string, body: JSON.stringify({ events: batch }) });
  }
  const acked: { id: string; at: number }[] = [];
  const sizes: { at: number; size: number }[] = [];
  const checkpointOf = async () => {
    const res = await fetch(`${apiUrl}/v1/audit/integrity/checkpoint`, {
      headers: { Authorization: `Bearer ${read}` },
    });
    if (res.status === 200) return ((await res.json()) as { size: number }).size;
    await res.text();
    return 0;
  };
  // The tenant's log before this round: the round is covered at this size plus its events.
  const base = lag ? await checkpointOf() : 0;
  let polling = lag;
  const poller = (async () => {
    while (polling) {
      sizes.push({ at: performance.now(), size: await checkpointOf() });
      await sleep(100);
    }
  })();
  const began = performance.now();
  await runConcurrently(
    bodies.map((b, k) => async () => {
      // Paced: request k leaves no earlier than its place in a steady stream of `rate` events/s.
      if (opts.rate) await sleep(Math.max(0, began + (k * BATCH * 1000) / opts.rate - performance.now()));
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
  while ((sizes.at(-1)?.size ?? 0) < base + events.length && performance.now() < deadline) await sleep(100);
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

/** Waits (up to a minute) until no merge runs: each side starts on a quiet cluster. */
async function settled(client: BenchContext["client"]): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const stats = await client.indices.stats({ metric: "merge" });
    if ((stats.body._all?.total?.merges?.current ?? 0) === 0) return;
    await sleep(500);
  }
}

/** The live rounds' tenants' events (every tenant id starting `bench-live-`). */
async function dropLiveEvents(client: BenchContext["client"]): Promise<void> {
  await client.deleteByQuery({
    index: AUDIT_STREAM,
    refresh: true,
    conflicts: "proceed",
    body: { query: { prefix: { "scaivault.tenant": "bench-live-" } } } as never,
  });
}
