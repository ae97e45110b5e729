/**
 * Delivery to SIEMs, against real receivers on loopback (a webhook receiver in this process that
 * checks every signature, rsyslog over TLS, a Kafka 4.4 broker, the OpenTelemetry Collector's
 * splunk_hec receiver), rounds alternating which side goes first:
 *  1. Throughput per type: a backlog of BACKLOG stored events sent to one destination (paused while
 *     they are stored, then resumed; timed until its status counts them all delivered), against a
 *     raw sender doing the same sending — the same messages, batch size and client — with no
 *     service in between.
 *  2. Lag at a steady RATE events/s with DESTINATIONS webhook destinations attached: ack of POST
 *     /v1/audit/events → the event received (each destination's copy counts), p50/p95.
 *  3. What delivery costs ingest: events/s through the API at full speed (batches of 1,000, 4
 *     clients) on a tenant with DESTINATIONS destinations delivering, against one with none.
 * The service delivering is a second process of its own (DELIVERY_WORKER=true).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect } from "node:tls";
import { Admin, ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { Webhook } from "standardwebhooks";
import { mintToken } from "../../dev/token.ts";
import { take } from "../../scripts/synthetic.ts";
import { startHecReceiver } from "../../test/support/hec-receiver.ts";
import { startKafka } from "../../test/support/kafka.ts";
import { startRsyslog } from "../../test/support/rsyslog.ts";
import { LIFTED_BUDGETS, median, percentile, runConcurrently } from "../support.ts";
import type { BenchContext, PartResult } from "./part.ts";

const BACKLOG = 20_000;
const BATCH = 500;
const RATE = 1000;
const SECONDS = 30;
const DESTINATIONS = 10;
const INGEST_EVENTS = 50_000;
const ROUNDS = 2;
const TYPES = ["webhook", "splunk_hec", "syslog", "kafka"] as const;
type Kind = (typeof TYPES)[number];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A CloudEvents-batch webhook receiver noting when each event id arrived; every signature checked. */
async function webhookReceiver(secret: string) {
  const verifier = new Webhook(secret);
  const arrivals = new Map<string, number[]>();
  let received = 0;
  let bad = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    try {
      verifier.verify(body, headers);
    } catch {
      bad++;
      res.writeHead(401).end();
      return;
    }
    const now = performance.now();
    for (const e of JSON.parse(body) as { id: string }[]) {
      received++;
      const seen = arrivals.get(e.id);
      if (seen) seen.push(now);
      else arrivals.set(e.id, [now]);
    }
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}/hook`,
    arrivals,
    received: () => received,
    bad: () => bad,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function delivery(ctx: BenchContext): Promise<PartResult> {
  const runId = Date.now().toString(36);
  const tenants = {
    tp: (kind: Kind, round: number) => `dlv-${runId}-tp-${kind}-${round}`,
    lag: `dlv-${runId}-lag`,
    ingest: (round: number, side: "with" | "none") => `dlv-${runId}-ing-${round}-${side}`,
  };
  const hookSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const hecToken = randomUUID();
  const [hook, rsyslog, kafka, hec] = await Promise.all([
    webhookReceiver(hookSecret),
    startRsyslog(),
    startKafka(),
    startHecReceiver({ token: hecToken }),
  ]);
  const topic = `audit.bench.${runId}`;
  const admin = new Admin({ clientId: "bench", bootstrapBrokers: [kafka.bootstrap] });
  await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
  await admin.close();

  const all = [
    ...TYPES.flatMap((k) => Array.from({ length: ROUNDS }, (_, r) => tenants.tp(k, r))),
    tenants.lag,
    ...Array.from({ length: ROUNDS }, (_, r) => tenants.ingest(r, "with")),
  ];
  const secrets = {
    "bench/hook": { signing_secret: hookSecret },
    "bench/hec": { hec_token: hecToken },
    "bench/none": {},
  };
  const dir = await mkdtemp(path.join(tmpdir(), "bench-delivery-"));
  const secretsFile = path.join(dir, "secrets.json");
  await writeFile(secretsFile, JSON.stringify(Object.fromEntries(all.map((t) => [t, secrets]))));
  const api = await ctx.env.anotherApi({
    ...LIFTED_BUDGETS,
    DELIVERY_WORKER: "true",
    DELIVERY_POLL_INTERVAL_MS: "100",
    SECRETS_FILE: secretsFile,
    EXPORT_ENDPOINT_ALLOWLIST: [
      hook.origin,
      hec.url,
      `tls://127.0.0.1:${rsyslog.port}`,
      `kafka://${kafka.bootstrap}`,
    ].join(","),
    LOG_LEVEL: "warn",
  });
  const token = (tenant: string, scope: string) =>
    mintToken(ctx.env.secret, { sub: "user:bench", tenant, scope });
  const call = async (tenant: string, method: string, p: string, body?: unknown) => {
    const res = await fetch(`${api.apiUrl}${p}`, {
      method,
      headers: {
        Authorization: `Bearer ${await token(tenant, "audit:admin audit:write")}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const out = res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
    if (res.status >= 300)
      throw new Error(`${method} ${p} answered ${res.status}: ${JSON.stringify(out).slice(0, 300)}`);
    return out;
  };
  const ingest = async (tenant: string, events: Record<string, unknown>[], concurrency = 4) => {
    const auth = `Bearer ${await token(tenant, "audit:write")}`;
    const jobs: (() => Promise<void>)[] = [];
    for (let i = 0; i < events.length; i += 1000) {
      const events1000 = events.slice(i, i + 1000);
      jobs.push(async () => {
        const res = await fetch(`${api.apiUrl}/v1/audit/events`, {
          method: "POST",
          body: JSON.stringify({ events: events1000 }),
          headers: { Authorization: auth, "Content-Type": "application/json" },
        });
        const out = (await res.json()) as { accepted?: number };
        if (res.status !== 200 || out.accepted !== events1000.length)
          throw new Error(`ingest answered ${res.status}: ${JSON.stringify(out).slice(0, 300)}`);
      });
    }
    return runConcurrently(jobs, concurrency);
  };
  const destination = (kind: Kind, linger = 0) => ({
    name: `bench ${kind}`,
    type: kind,
    batch: { max_events: BATCH, linger_ms: linger },
    ...(kind === "webhook"
      ? { config: { url: hook.url, mode: "batched" }, credentials_secret: "bench/hook" }
      : {}),
    ...(kind === "splunk_hec" ? { config: { url: hec.url }, credentials_secret: "bench/hec" } : {}),
    ...(kind === "syslog"
      ? {
          config: { host: "127.0.0.1", port: rsyslog.port, ca_pem: rsyslog.caPem },
          credentials_secret: "bench/none",
        }
      : {}),
    ...(kind === "kafka"
      ? { config: { brokers: [kafka.bootstrap], topic, tls: false }, credentials_secret: "bench/none" }
      : {}),
  });
  const statusOf = async (tenant: string, id: string) =>
    (await call(tenant, "GET", `/v1/audit/destinations/${id}`)).status as {
      delivered: number;
      failed: number;
    };

  /** The service: a stored backlog sent by one destination; events/s from resume to all delivered. */
  async function serviceSide(kind: Kind, round: number): Promise<number> {
    const tenant = tenants.tp(kind, round);
    const d = (await call(tenant, "POST", "/v1/audit/destinations", destination(kind))) as {
      destination_id: string;
    };
    await call(tenant, "POST", `/v1/audit/destinations/${d.destination_id}/pause`);
    await ingest(tenant, take(BACKLOG, { seed: 700 + round, tenant: "bench", days: 1, end: new Date() }));
    const began = performance.now();
    await call(tenant, "POST", `/v1/audit/destinations/${d.destination_id}/resume`);
    for (;;) {
      const s = await statusOf(tenant, d.destination_id);
      if (s.delivered >= BACKLOG) break;
      if (s.failed > 0) throw new Error(`${kind} failed: ${JSON.stringify(s)}`);
      await sleep(50);
    }
    const rate = BACKLOG / ((performance.now() - began) / 1000);
    await call(tenant, "DELETE", `/v1/audit/destinations/${d.destination_id}`);
    return rate;
  }

  /** The raw sender: the same events, formatted and batched as the destination sends them. */
  async function rawSide(kind: Kind, round: number): Promise<number> {
    type Raw = Record<string, unknown> & { id: string; action: string; timestamp: string };
    const events = take(BACKLOG, { seed: 800 + round, tenant: "bench", days: 1, end: new Date() }).map(
      (e, i) => ({ ...e, id: `raw-${runId}-${round}-${i}` }) as Raw,
    );
    const batches: (typeof events)[] = [];
    for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));
    const began = performance.now();
    if (kind === "webhook") {
      const signer = new Webhook(hookSecret);
      for (const b of batches) {
        const body = JSON.stringify(
          b.map((e) => ({
            specversion: "1.0",
            id: e.id,
            source: "/bench",
            type: `com.scaivault.audit.${e.action}`,
            time: e.timestamp,
            datacontenttype: "application/json",
            data: e,
          })),
        );
        const id = `${b[0]?.id}+${b.length}`;
        const res = await fetch(hook.url, {
          method: "POST",
          headers: {
            "content-type": "application/cloudevents-batch+json",
            "webhook-id": id,
            "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
            "webhook-signature": signer.sign(id, new Date(), body),
          },
          body,
        });
        if (!res.ok) throw new Error(`raw webhook: ${res.status}`);
      }
    } else if (kind === "splunk_hec") {
      for (const b of batches) {
        const body = b
          .map((e) =>
            JSON.stringify({
              time: Date.parse(e.timestamp as string) / 1000,
              host: "bench",
              source: "scaivault:audit",
              event: e,
              fields: { event_id: e.id },
            }),
          )
          .join("\n");
        const res = await fetch(`${hec.url}/services/collector/event`, {
          method: "POST",
          headers: { Authorization: `Splunk ${hecToken}`, "Content-Type": "application/json" },
          body,
        });
        if (!res.ok) throw new Error(`raw HEC: ${res.status}`);
      }
    } else if (kind === "syslog") {
      const socket = connect({
        host: "127.0.0.1",
        port: rsyslog.port,
        ca: rsyslog.caPem,
        servername: "localhost",
      });
      await new Promise((r) => socket.once("secureConnect", r));
      for (const b of batches) {
        const data = b
          .map((e) => {
            const msg = `<110>1 ${e.timestamp} bench scaivault-audit 1 ${e.action} [audit@32473 id="${e.id}"] \uFEFF${JSON.stringify(e)}`;
            return `${Buffer.byteLength(msg)} ${msg}`;
          })
          .join("");
        await new Promise<void>((resolve, reject) =>
          socket.write(data, (err) => (err ? reject(err) : resolve())),
        );
      }
      socket.end();
    } else {
      const producer = new Producer({
        clientId: "bench-raw",
        bootstrapBrokers: [kafka.bootstrap],
        serializers: stringSerializers,
        idempotent: true,
        acks: ProduceAcks.ALL,
        autocreateTopics: false,
      });
      for (const b of batches)
        await producer.send({
          messages: b.map((e) => ({ topic, key: e.id as string, value: JSON.stringify(e) })),
        });
      await producer.close();
    }
    return BACKLOG / ((performance.now() - began) / 1000);
  }

  /** Steady RATE for SECONDS with DESTINATIONS webhook destinations: ack → received, per copy (ms). */
  async function lagRound(): Promise<{
    p50: number;
    p95: number;
    max: number;
    copies: number;
    rate: number;
  }> {
    const tenant = tenants.lag;
    const ids: string[] = [];
    for (let i = 0; i < DESTINATIONS; i++)
      ids.push(
        (
          (await call(tenant, "POST", "/v1/audit/destinations", destination("webhook"))) as {
            destination_id: string;
          }
        ).destination_id,
      );
    const auth = `Bearer ${await token(tenant, "audit:write")}`;
    const events = take(RATE * SECONDS, { seed: 950, tenant: "bench", days: 1, end: new Date() }).map(
      (e, i) => ({
        ...e,
        id: `lag-${runId}-${i}`,
      }),
    );
    const acked = new Map<string, number>();
    const perTick = RATE / 10;
    const began = performance.now();
    for (let i = 0, tick = 0; i < events.length; i += perTick, tick++) {
      const batch = events.slice(i, i + perTick);
      const res = await fetch(`${api.apiUrl}/v1/audit/events`, {
        method: "POST",
        body: JSON.stringify({ events: batch }),
        headers: { Authorization: auth, "Content-Type": "application/json" },
      });
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
      await res.arrayBuffer();
      const at = performance.now();
      for (const e of batch) acked.set(e.id, at);
      const wait = began + (tick + 1) * 100 - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const rate = events.length / ((performance.now() - began) / 1000);
    const deadline = Date.now() + 120_000;
    const complete = () => events.every((e) => (hook.arrivals.get(e.id)?.length ?? 0) >= DESTINATIONS);
    while (!complete() && Date.now() < deadline) await sleep(200);
    if (!complete()) throw new Error("not every destination received every event within 120 s");
    const lags = events.flatMap((e) =>
      (hook.arrivals.get(e.id) as number[]).map((t) => t - (acked.get(e.id) as number)),
    );
    for (const id of ids) await call(tenant, "DELETE", `/v1/audit/destinations/${id}`);
    return {
      p50: percentile(lags, 50),
      p95: percentile(lags, 95),
      max: Math.max(...lags.slice(0, 1e5)),
      copies: lags.length,
      rate,
    };
  }

  /** Full-speed ingest with DESTINATIONS destinations delivering on the tenant, or none; events/s. */
  async function ingestRound(round: number, side: "with" | "none"): Promise<number> {
    const tenant = tenants.ingest(round, side);
    const ids: string[] = [];
    if (side === "with")
      for (let i = 0; i < DESTINATIONS; i++)
        ids.push(
          (
            (await call(tenant, "POST", "/v1/audit/destinations", destination("webhook", 200))) as {
              destination_id: string;
            }
          ).destination_id,
        );
    const events = take(INGEST_EVENTS, {
      seed: 990 + round * 2 + (side === "with" ? 1 : 0),
      tenant: "bench",
      days: 1,
      end: new Date(),
    });
    const secs = await ingest(tenant, events);
    for (const id of ids) await call(tenant, "DELETE", `/v1/audit/destinations/${id}`);
    return INGEST_EVENTS / secs;
  }

  console.log(
    `delivery benchmark: backlog ${BACKLOG} events in batches of ${BATCH} per type (${TYPES.join(", ")}); ${DESTINATIONS} destinations at ${RATE} events/s for ${SECONDS} s; ingest ${INGEST_EVENTS} events with ${DESTINATIONS} destinations vs none; ${ROUNDS} rounds`,
  );
  const throughput: Record<Kind, { service: number[]; raw: number[] }> = Object.fromEntries(
    TYPES.map((k) => [k, { service: [], raw: [] }]),
  ) as never;
  const withDest: number[] = [];
  const without: number[] = [];
  let lag: Awaited<ReturnType<typeof lagRound>>;
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const kind of TYPES)
        for (const side of round % 2 === 0 ? (["service", "raw"] as const) : (["raw", "service"] as const)) {
          const r = side === "service" ? await serviceSide(kind, round) : await rawSide(kind, round);
          throughput[kind][side].push(r);
          console.log(`round ${round + 1} ${kind} ${side}: ${r.toFixed(0)} events/s`);
        }
    lag = await lagRound();
    console.log(
      `lag at ${lag.rate.toFixed(0)} events/s, ${DESTINATIONS} destinations (${lag.copies} copies): p50 ${lag.p50.toFixed(0)} ms, p95 ${lag.p95.toFixed(0)} ms, max ${lag.max.toFixed(0)} ms`,
    );
    for (let round = 0; round < ROUNDS; round++)
      for (const side of round % 2 === 0 ? (["with", "none"] as const) : (["none", "with"] as const)) {
        const r = await ingestRound(round, side);
        (side === "with" ? withDest : without).push(r);
        console.log(
          `round ${round + 1} ingest ${side === "with" ? `with ${DESTINATIONS} destinations` : "with none"}: ${r.toFixed(0)} events/s`,
        );
      }
    if (hook.bad() > 0) throw new Error(`${hook.bad()} webhook requests failed their signature check`);
  } finally {
    await api.stop();
    await Promise.all([hook.stop(), rsyslog.stop(), kafka.stop(), hec.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
  const ratios = withDest.map((w, i) => w / (without[i] as number));
  const summary = {
    params: {
      backlog: BACKLOG,
      batch: BATCH,
      rate: RATE,
      seconds: SECONDS,
      destinations: DESTINATIONS,
      ingest_events: INGEST_EVENTS,
      rounds: ROUNDS,
    },
    throughput: Object.fromEntries(
      TYPES.map((k) => [
        k,
        {
          service: throughput[k].service.map(Math.round),
          raw: throughput[k].raw.map(Math.round),
          ratio: Number(
            median(throughput[k].service.map((s, i) => s / (throughput[k].raw[i] as number))).toFixed(2),
          ),
        },
      ]),
    ),
    lag_ms: {
      p50: Math.round(lag.p50),
      p95: Math.round(lag.p95),
      max: Math.round(lag.max),
      rate: Math.round(lag.rate),
    },
    ingest: {
      with: withDest.map(Math.round),
      none: without.map(Math.round),
      ratio: Number(median(ratios).toFixed(3)),
    },
  };
  return {
    tables: [
      {
        title: `Delivery throughput from a stored backlog of ${BACKLOG} events, batches of ${BATCH} (median of ${ROUNDS} rounds)`,
        head: ["type", "service events/s", "raw sender events/s", "service ÷ raw"],
        rows: TYPES.map((k) => [
          k,
          Math.round(median(throughput[k].service)),
          Math.round(median(throughput[k].raw)),
          `${summary.throughput[k]?.ratio}×`,
        ]),
        note: "The service reads each batch from OpenSearch in store order, formats, sends, and stores its position after the acknowledgement; the raw sender only sends the same messages.",
      },
      {
        title: `Lag and ingest with ${DESTINATIONS} webhook destinations`,
        head: ["measure", "value"],
        rows: [
          [
            `ack → received at ${summary.lag_ms.rate} events/s, p50 / p95 / max ms`,
            `${summary.lag_ms.p50} / ${summary.lag_ms.p95} / ${summary.lag_ms.max}`,
          ],
          [
            `full-speed ingest with ${DESTINATIONS} destinations ÷ none (median of ${ROUNDS})`,
            `${Math.round(median(withDest))} ÷ ${Math.round(median(without))} events/s = ${summary.ingest.ratio}×`,
          ],
        ],
      },
    ],
    data: summary,
  };
}
