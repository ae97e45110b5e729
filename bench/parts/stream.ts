/**
 * The live tail, rounds alternating which side goes first:
 *  1. Delivery at a steady ingest rate: ack of POST /v1/audit/events → the event received by each
 *     of SUBSCRIBERS SSE clients of the service, against a raw OpenSearch poller doing the same
 *     work directly (stats → refresh → `_seq_no` range search, every 250 ms): ack → event seen.
 *     One side at a time, each on its own tenant.
 *  2. What the tail costs ingest: events/s through the API at full speed (batches of 1,000, 4
 *     clients) with the subscribers attached, against none.
 */
import { mintToken } from "../../dev/token.ts";
import { take } from "../../scripts/synthetic.ts";
import { AUDIT_STREAM } from "../../src/opensearch/names.ts";
import { median, percentile, runConcurrently } from "../support.ts";
import type { BenchContext, PartResult } from "./part.ts";

export const SUBSCRIBERS = 50;
const RATE = 1000;
const SECONDS = 10;
const EVENTS = 50_000;
const ROUNDS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function stream(ctx: BenchContext): Promise<PartResult> {
  const { env, client } = ctx;
  const runId = Date.now().toString(36);
  /** An SSE client that only notes when each event id arrived (a cheap scan, not a full parse). */
  async function subscriber(tenant: string) {
    const token = await mintToken(env.secret, { sub: "user:bench", tenant, scope: "audit:read" });
    const abort = new AbortController();
    const res = await fetch(`${env.apiUrl}/v1/audit/stream`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    if (res.status !== 200) throw new Error(`stream answered ${res.status}: ${await res.text()}`);
    const seen = new Map<string, number>();
    let ready!: () => void;
    const attached = new Promise<void>((r) => (ready = r));
    void (async () => {
      let rest = "";
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const now = performance.now();
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() as string;
        for (const line of lines) {
          if (line.startsWith("id: ")) ready();
          const m = /^data: \{"id":"([^"]+)"/.exec(line);
          if (m) seen.set(m[1] as string, now);
        }
      }
    })().catch(() => {});
    await attached;
    return { seen, stop: async () => abort.abort() };
  }

  /** The raw side: the same reads done straight against OpenSearch, for one tenant. */
  async function rawPoller(tenant: string) {
    const seen = new Map<string, number>();
    const stream = (await client.indices.getDataStream({ name: AUDIT_STREAM })).body.data_streams[0];
    const index = stream?.indices.at(-1)?.index_name as string;
    const checkpoint = async () => {
      type Copy = { routing: { primary: boolean }; seq_no: { global_checkpoint: number } };
      const s = await client.indices.stats({ index, metric: "docs", level: "shards" });
      const shards = (s.body.indices as Record<string, { shards: Record<string, Copy[]> }>)[index]?.shards;
      return shards?.["0"]?.find((c) => c.routing.primary)?.seq_no.global_checkpoint ?? -1;
    };
    let next = (await checkpoint()) + 1;
    let running = true;
    const loop = (async () => {
      while (running) {
        const to = await checkpoint();
        if (to >= next) {
          await client.indices.refresh({ index });
          for (let from = next; ; ) {
            const res = await client.search({
              index,
              body: {
                query: {
                  bool: {
                    filter: [
                      { term: { "scaivault.tenant": tenant } },
                      { range: { _seq_no: { gte: from, lte: to } } },
                    ],
                  },
                },
                sort: [{ _seq_no: "asc" }],
                size: 1000,
                seq_no_primary_term: true,
                _source: ["event.id"],
              } as never,
            });
            const now = performance.now();
            const hits = res.body.hits.hits as { _seq_no: number; _source: { event: { id: string } } }[];
            for (const h of hits) seen.set(h._source.event.id, now);
            if (hits.length < 1000) break;
            from = (hits.at(-1)?._seq_no as number) + 1;
          }
          next = to + 1;
        }
        await sleep(250);
      }
    })();
    return {
      seen,
      stop: async () => {
        running = false;
        await loop;
      },
    };
  }

  async function post(token: string, events: Record<string, unknown>[]): Promise<void> {
    const res = await fetch(`${env.apiUrl}/v1/audit/events`, {
      method: "POST",
      body: JSON.stringify({ events }),
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    });
    const out = (await res.json()) as { accepted?: number };
    if (res.status !== 200 || out.accepted !== events.length)
      throw new Error(`API answered ${res.status}: ${JSON.stringify(out).slice(0, 300)}`);
  }

  /** The largest value (spreading half a million into Math.max overflows the stack). */
  const maxOf = (xs: Iterable<number>) => {
    let m = Number.NEGATIVE_INFINITY;
    for (const x of xs) if (x > m) m = x;
    return m;
  };

  const until = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) await sleep(20);
    return done();
  };

  interface Delivery {
    rate: number;
    deliveries: number;
    p50: number;
    p95: number;
    max: number;
  }

  /**
   * Steady ingest at RATE for SECONDS, watched either by SUBSCRIBERS clients of the service or by
   * the raw poller (never both at once: each refreshes the index, and the two would slow each
   * other); latencies (ms) from each batch's ack.
   */
  async function deliveryRound(round: number, side: "service" | "raw"): Promise<Delivery> {
    const tenant = `tail-${runId}-lat-${round}-${side}`;
    const token = await mintToken(env.secret, { sub: "service_account:bench", tenant, scope: "audit:write" });
    const watchers =
      side === "service"
        ? await Promise.all(Array.from({ length: SUBSCRIBERS }, () => subscriber(tenant)))
        : [await rawPoller(tenant)];
    const acked = new Map<string, number>();
    const events = take(RATE * SECONDS, { seed: 500 + round, tenant: "bench", days: 1, end: new Date() });
    const perTick = Math.max(1, Math.round(RATE / 10));
    const began = performance.now();
    for (let i = 0, tick = 0; i < events.length; i += perTick, tick++) {
      const batch = events.slice(i, i + perTick);
      await post(token, batch);
      const at = performance.now();
      for (const e of batch) acked.set(e.id as string, at);
      const wait = began + (tick + 1) * 100 - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const rate = events.length / ((performance.now() - began) / 1000);
    const complete = await until(() => watchers.every((w) => w.seen.size === events.length), 60_000);
    await Promise.all(watchers.map((w) => w.stop()));
    if (!complete) throw new Error("not every event arrived within 60 s");
    const lags = watchers.flatMap((w) =>
      [...w.seen].map(([id, t]) => Math.max(0, t - (acked.get(id) as number))),
    );
    return {
      rate,
      deliveries: lags.length,
      p50: percentile(lags, 50),
      p95: percentile(lags, 95),
      max: maxOf(lags),
    };
  }

  /** Full-speed ingest of EVENTS, with or without SUBSCRIBERS on the tenant; events/s. */
  async function throughputRound(round: number, withTail: boolean) {
    const tenant = `tail-${runId}-tp-${round}-${withTail ? "tail" : "none"}`;
    const token = await mintToken(env.secret, { sub: "service_account:bench", tenant, scope: "audit:write" });
    const subs = withTail
      ? await Promise.all(Array.from({ length: SUBSCRIBERS }, () => subscriber(tenant)))
      : [];
    const events = take(EVENTS, {
      seed: 900 + round * 2 + (withTail ? 1 : 0),
      tenant: "bench",
      days: 1,
      end: new Date(),
    });
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < events.length; i += 1000) batches.push(events.slice(i, i + 1000));
    const secs = await runConcurrently(
      batches.map((b) => () => post(token, b)),
      4,
    );
    const ackedAt = performance.now();
    let drain: number | undefined;
    if (withTail) {
      if (!(await until(() => subs.every((s) => s.seen.size === events.length), 120_000)))
        throw new Error("the subscribers did not receive every event within 120 s");
      drain = maxOf(subs.map((s) => maxOf(s.seen.values()))) - ackedAt;
      for (const s of subs) await s.stop();
    }
    return { rate: events.length / secs, drain };
  }

  console.log(
    `live-tail benchmark: ${SUBSCRIBERS} subscribers; steady ${RATE} events/s for ${SECONDS} s; full-speed ${EVENTS} events; ${ROUNDS} rounds`,
  );
  await deliveryRound(-1, "service"); // warm-up
  const delivery: { service: Delivery; raw: Delivery }[] = [];
  const withTail: number[] = [];
  const without: number[] = [];
  const drains: number[] = [];
  const ms = (d: Delivery) =>
    `p50 ${d.p50.toFixed(0)} ms, p95 ${d.p95.toFixed(0)} ms, max ${d.max.toFixed(0)} ms`;
  for (let round = 0; round < ROUNDS; round++) {
    const pair: Partial<Record<"service" | "raw", Delivery>> = {};
    for (const side of round % 2 === 0 ? (["service", "raw"] as const) : (["raw", "service"] as const)) {
      const d = await deliveryRound(round, side);
      pair[side] = d;
      console.log(
        `round ${round + 1} delivery at ${d.rate.toFixed(0)} events/s, ${side === "service" ? `service (${d.deliveries} deliveries)` : "raw poller"}: ${ms(d)}`,
      );
    }
    delivery.push(pair as { service: Delivery; raw: Delivery });
    for (const side of round % 2 === 0 ? [true, false] : [false, true]) {
      const t = await throughputRound(round, side);
      (side ? withTail : without).push(t.rate);
      if (t.drain !== undefined) drains.push(t.drain);
      console.log(
        `round ${round + 1} ingest ${side ? "with tail" : "no tail  "} ${t.rate.toFixed(0)} events/s${t.drain !== undefined ? `, last event delivered ${t.drain.toFixed(0)} ms after the last ack` : ""}`,
      );
    }
  }
  const ratios = withTail.map((w, i) => w / (without[i] as number));
  const summary = {
    params: { subscribers: SUBSCRIBERS, rate: RATE, seconds: SECONDS, events: EVENTS, rounds: ROUNDS },
    delivery: delivery.map(({ service, raw }) => ({
      service_ms: {
        p50: Math.round(service.p50),
        p95: Math.round(service.p95),
        max: Math.round(service.max),
      },
      raw_ms: { p50: Math.round(raw.p50), p95: Math.round(raw.p95), max: Math.round(raw.max) },
      p95_ratio: Number((service.p95 / raw.p95).toFixed(2)),
    })),
    median: {
      service_p95_ms: Math.round(median(delivery.map((d) => d.service.p95))),
      raw_p95_ms: Math.round(median(delivery.map((d) => d.raw.p95))),
      p95_ratio: Number(median(delivery.map((d) => d.service.p95 / d.raw.p95)).toFixed(2)),
      ingest_with_tail: Math.round(median(withTail)),
      ingest_without: Math.round(median(without)),
      ingest_ratio: Number(median(ratios).toFixed(3)),
      drain_ms: Math.round(median(drains)),
    },
  };
  console.log(
    `\nmedian: delivery p95 service ${summary.median.service_p95_ms} ms vs raw poller ${summary.median.raw_p95_ms} ms (service/raw per round ${delivery.map((d) => (d.service.p95 / d.raw.p95).toFixed(2)).join(", ")}); ` +
      `ingest with tail / without per round ${ratios.map((r) => r.toFixed(2)).join(", ")}, median ${summary.median.ingest_ratio}`,
  );
  return {
    tables: [
      {
        title: `Live tail (${SUBSCRIBERS} subscribers, ${RATE} events/s for ${SECONDS} s; median of ${ROUNDS} rounds)`,
        head: ["measure", "service", "raw poller", "service ÷ raw"],
        rows: [
          [
            "delivery after the ack, p95 ms",
            summary.median.service_p95_ms,
            summary.median.raw_p95_ms,
            `${summary.median.p95_ratio}×`,
          ],
          [
            "full-speed ingest with the subscribers attached ÷ without",
            `${summary.median.ingest_with_tail} events/s`,
            `${summary.median.ingest_without} events/s`,
            `${summary.median.ingest_ratio}×`,
          ],
        ],
      },
    ],
    data: summary,
  };
}
