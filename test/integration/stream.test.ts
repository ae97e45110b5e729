/**
 * The live tail against a real OpenSearch, over real HTTP: delivery time, resume without gap or
 * duplicate, late events, tenants, filters (compared with /logs), many subscribers, slow
 * clients, limits, shutdown, several replicas and a rollover.
 */
import { readFile } from "node:fs/promises";
import http from "node:http";
import { Readable } from "node:stream";
import { describe, expect, inject, it } from "vitest";
import { mintToken } from "../../dev/token.ts";
import { normalize } from "../../src/events/event.mapping.ts";
import type { IngestEvent } from "../../src/events/event.schema.ts";
import { isoMicros } from "../../src/events/time.ts";
import { bulkBody } from "../../src/features/ingest/ingest.bulk.ts";
import { StreamHub, type StreamSettings } from "../../src/features/stream/stream.hub.ts";
import type { Subscriber } from "../../src/features/stream/stream.subscriber.ts";
import { createLogger } from "../../src/logger.ts";
import { formatPosition, type Position, parsePosition, reached } from "../../src/opensearch/position.ts";
import { json, TEST_SECRET, TEST_STREAM, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";
import { queryFixture } from "../support/fixture.ts";
import { ocsfProblems } from "../support/ocsf-oracle.ts";
import { listen, openStream, SseStream, servedForFile } from "../support/sse.ts";

const url = inject("opensearchUrl");
// Tokens may live 60 days here: a stream of a token that outlives a timer's range is tested.
const server = servedForFile(url, { stream: { heartbeatMs: 300 }, tokenMaxLifetimeSec: 60 * 86_400 });
const { app, client } = server;

/** Another replica of the service (its own live-tail hub) on its own port, for the length of `fn`. */
async function withReplica<T>(
  stream: Partial<StreamSettings>,
  fn: (replica: ReturnType<typeof testApp> & { base: string }) => Promise<T>,
): Promise<T> {
  const replica = testApp(url, { stream });
  const listening = await listen(replica.app);
  try {
    return await fn({ ...replica, base: listening.base });
  } finally {
    await replica.hub.close();
    await listening.close();
    await replica.client.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const readToken = (tenant: string) => tokenFor(tenant, "audit:read");

/** Ingests through the app (no refresh: the live tail must find events on its own); returns when acknowledged. */
async function post(tenant: string, events: Record<string, unknown>[], via = app): Promise<number> {
  const res = await via.request("/v1/audit/events", {
    method: "POST",
    body: JSON.stringify({ events }),
    headers: {
      Authorization: `Bearer ${await tokenFor(tenant, "audit:write")}`,
      "Content-Type": "application/json",
    },
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return performance.now();
}

async function subscribe(tenant: string, opts: { query?: string; lastEventId?: string; base?: string } = {}) {
  const { res, stream } = await openStream(opts.base ?? server.base, await readToken(tenant), opts);
  expect(res.status, res.status === 200 ? "" : await res.text()).toBe(200);
  // The first message (retry, and the position once caught up) has arrived.
  await (stream as SseStream).until(() => stream?.lastEventId !== "", 10_000, "the first position");
  return stream as SseStream;
}

const ids = (s: SseStream) => s.events.map((e) => e.id as string);
const batch = (prefix: string, n: number, patch: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => event({ id: `${prefix}-${String(i).padStart(4, "0")}`, ...patch }));
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
};

describe("GET /v1/audit/stream", () => {
  it("sends each new event once, in the order stored, within 2 s of its ingest being acknowledged", async () => {
    const tenant = newTenant("tail");
    const stream = await subscribe(tenant);
    expect(stream.retry).toBe(2000);
    const acked = new Map<string, number>();
    const sent: string[] = [];
    for (let b = 0; b < 60; b++) {
      const events = batch(`lat-${b}`, 5);
      const at = await post(tenant, events);
      for (const e of events) {
        acked.set(e.id as string, at);
        sent.push(e.id as string);
      }
      await sleep(20);
    }
    await stream.until(() => stream.received >= sent.length);
    expect(ids(stream)).toEqual(sent);
    const latencies = stream.messages.map((m) => m.at - (acked.get(JSON.parse(m.data).id) as number));
    const p50 = percentile(latencies, 0.5);
    const p95 = percentile(latencies, 0.95);
    console.log(
      `live tail: ${sent.length} events, ack → delivered p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
    );
    // The contract's figure is 2 s; this box is shared with OpenSearch, so only that bound is asserted.
    expect(p95).toBeLessThan(2000);
    // Each event's id is its position, strictly increasing.
    const positions = stream.messages.map((m) => parsePosition(m.id) as Position);
    expect(positions.every(Boolean)).toBe(true);
    for (const [i, p] of positions.slice(1).entries()) {
      const before = positions[i] as Position;
      expect(reached(p, before) && formatPosition(p) !== formatPosition(before)).toBe(true);
    }
    stream.close();
  });

  it("resumes from Last-Event-ID with nothing lost and nothing repeated", async () => {
    const tenant = newTenant("resume");
    const other = newTenant("resume-other");
    const first = await subscribe(tenant);
    await post(tenant, batch("r1", 10));
    await first.until(() => first.received === 10);
    first.close();
    const last = first.lastEventId;
    expect(last).toBe(first.messages.at(-1)?.id);

    // While disconnected: more events, some of another tenant, interleaved.
    for (let i = 0; i < 3; i++) {
      await post(tenant, batch(`r2-${i}`, 5));
      await post(other, batch(`r2-${i}`, 5));
    }
    const again = await subscribe(tenant, { lastEventId: last });
    await again.until(() => again.received === 15);
    await post(tenant, batch("r3", 4));
    await again.until(() => again.received === 19);
    await sleep(300);
    expect(ids(again)).toEqual(
      [...batch("r2-0", 5), ...batch("r2-1", 5), ...batch("r2-2", 5), ...batch("r3", 4)].map((e) => e.id),
    );
    again.close();

    // The same through the query parameter, for clients that cannot set headers.
    const byParam = await subscribe(tenant, { query: `last_event_id=${encodeURIComponent(last)}` });
    await byParam.until(() => byParam.received === 19);
    await sleep(300);
    expect(ids(byParam)).toEqual(ids(again));
    byParam.close();
  });

  it("delivers every event exactly once under concurrent writers and repeated reconnects", async () => {
    const tenant = newTenant("churn");
    const sent: string[] = [];
    // Subscribed before anything is written: a stream without Last-Event-ID starts at "now", so a
    // batch acknowledged before the first subscription would (rightly) never be delivered.
    let first: SseStream | undefined = await subscribe(tenant);
    let reconnects = 0;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let b = 0; b < 15; b++) {
        const events = batch(`churn-${w}-${b}`, 20);
        await post(tenant, events);
        sent.push(...events.map((e) => e.id as string));
        // Half the writing waits for the client to have reconnected a few times, however fast
        // this machine writes: the churn overlaps the writes by construction, not by timing.
        while (b === 7 && reconnects < 4) await sleep(20);
      }
    });
    const writing = Promise.all(writers);
    let finished = false;
    void writing.then(() => {
      finished = true;
    });
    // A client that drops its connection every ~150 ms and resumes from its last id.
    const received: string[] = [];
    let lastEventId: string | undefined;
    for (;;) {
      const stream = first ?? (await subscribe(tenant, lastEventId ? { lastEventId } : {}));
      first = undefined;
      await sleep(150);
      stream.close();
      await stream.ended;
      received.push(...ids(stream));
      lastEventId = stream.lastEventId;
      reconnects++;
      if (finished && received.length >= sent.length) break;
      if (finished && reconnects > 200) break;
    }
    expect(reconnects).toBeGreaterThanOrEqual(4);
    expect(new Set(received).size).toBe(received.length);
    expect([...received].sort()).toEqual([...sent].sort());
  }, 60_000);

  it("delivers late events with an old timestamp, and not those older than the tenant's retention", async () => {
    const tenant = newTenant("late");
    const admin = await tokenFor(tenant, "audit:admin");
    const put = await app.request("/v1/audit/retention", {
      method: "PUT",
      body: JSON.stringify({ retention_days: 365 }),
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
    });
    expect(put.status).toBe(200);
    const stream = await subscribe(tenant);
    const daysAgo = (d: number) => isoMicros(new Date(Date.now() - d * 86_400_000));
    await post(tenant, [event({ id: "old-30d", timestamp: daysAgo(30) })]);
    await post(tenant, [event({ id: "older-than-retention", timestamp: daysAgo(400) })]);
    await post(tenant, [event({ id: "old-364d", timestamp: daysAgo(364) }), event({ id: "now" })]);
    await stream.until(() => stream.received === 3);
    await sleep(300);
    expect(ids(stream)).toEqual(["old-30d", "old-364d", "now"]);
    stream.close();
  });

  it("gives each tenant only its own events, even with the same event ids", async () => {
    const a = newTenant("iso-a");
    const b = newTenant("iso-b");
    const sa = await subscribe(a);
    const sb = await subscribe(b);
    await post(a, batch("same", 5, { path: "tenant-a/secret" }));
    await post(b, batch("same", 7, { path: "tenant-b/secret" }));
    await sa.until(() => sa.received === 5);
    await sb.until(() => sb.received === 7);
    await sleep(300);
    expect(sa.events.map((e) => e.path)).toEqual(Array(5).fill("tenant-a/secret"));
    expect(sb.events.map((e) => e.path)).toEqual(Array(7).fill("tenant-b/secret"));
    sa.close();
    sb.close();
  });

  it("applies the /logs filters exactly as /logs does", async () => {
    const tenant = newTenant("filters");
    const filters = [
      "action=read",
      "action=rotate,policy_update",
      "identity_id=user:ana@acme.example",
      "identity_type=service_account",
      "path_prefix=prod/db",
      "success=false",
      "source_ip=10.0.0.0/8",
      "source_ip=2001:db8::/32",
      "source_ip=203.0.113.7",
      "request_id=req_7",
      "q=compromise",
      "q=SCAIVAULT-cli",
      "q=!!!",
      "from=2026-11-26T15:25:00.000001Z&to=2026-11-26T15:35:00Z",
      "action=read&success=true&path_prefix=prod&q=scheduled",
    ];
    const all = await subscribe(tenant);
    const streams = await Promise.all(filters.map((query) => subscribe(tenant, { query })));
    const fixture = queryFixture();
    await post(tenant, fixture);
    await all.until(() => all.received === fixture.length);
    await client.indices.refresh({ index: "audit-events" });
    const token = await readToken(tenant);
    for (const [i, query] of filters.entries()) {
      const res = await app.request(`/v1/audit/logs?${query}&limit=1000`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const expected = new Set(((await json(res)).entries as { id: string }[]).map((e) => e.id));
      const stream = streams[i] as SseStream;
      await stream.until(() => stream.received >= expected.size, 5000, query);
      await sleep(200);
      // Same events as /logs, in the order they were stored.
      expect(ids(stream), query).toEqual(fixture.map((e) => e.id).filter((id) => expected.has(id)));
      stream.close();
    }
    expect(streams.filter((s) => s.received === 0).length, "q=!!! matches nothing").toBe(1);
    all.close();
  });

  it("moves a client's position on with heartbeats when nothing it wants arrives", async () => {
    const tenant = newTenant("beat");
    const stream = await subscribe(tenant, { query: "action=rotate" });
    const start = stream.lastEventId;
    expect(parsePosition(start)).toBeDefined();
    await post(tenant, batch("beat-read", 5, { action: "read" }));
    await stream.until(() => stream.lastEventId !== start, 5000, "a heartbeat id");
    expect(stream.received).toBe(0);
    expect(stream.comments).toContain("heartbeat");
    stream.close();
    // Resuming from the heartbeat's position: nothing old again, the next match arrives.
    const again = await subscribe(tenant, { query: "action=rotate", lastEventId: stream.lastEventId });
    await post(tenant, [event({ id: "beat-rotate", action: "rotate" })]);
    await again.until(() => again.received === 1);
    expect(ids(again)).toEqual(["beat-rotate"]);
    again.close();
  });

  it("sends OCSF 1.8 with format=ocsf, live and on a resume, the same events as the JSON stream", async () => {
    const tenant = newTenant("ocsf");
    const plain = await subscribe(tenant);
    const ocsf = await subscribe(tenant, { query: "format=ocsf" });
    await post(tenant, batch("o1", 8, { action: "policy_update" }));
    await post(tenant, batch("o2", 8));
    await ocsf.until(() => ocsf.received === 16);
    await plain.until(() => plain.received === 16);
    const messages = ocsf.messages.map((m) => JSON.parse(m.data));
    expect(messages.map((o) => o.metadata.uid)).toEqual(ids(plain));
    for (const o of messages) expect(ocsfProblems(o)).toEqual([]);
    expect(messages[0].class_uid).toBe(3004);
    expect(messages[8].class_uid).toBe(6003);
    const last = ocsf.messages[7]?.id as string;
    ocsf.close();
    plain.close();
    // A resume catches up through its own reads: rendered the same way.
    const again = await subscribe(tenant, { lastEventId: last, query: "format=ocsf" });
    await again.until(() => again.received === 8);
    expect(again.messages.map((m) => JSON.parse(m.data).metadata.uid)).toEqual(ids(plain).slice(8));
    again.close();
  });

  it("refuses bad requests with a problem naming the field", async () => {
    const tenant = newTenant("bad");
    const token = await readToken(tenant);
    for (const [opts, field] of [
      [{ lastEventId: "yesterday" }, "Last-Event-ID"],
      [{ lastEventId: "999999-0" }, "Last-Event-ID"],
      [{ query: "last_event_id=1" }, "Last-Event-ID"],
      [{ query: "limit=5" }, "limit"],
      [{ query: "action=peek" }, "action"],
      [{ query: "format=xml" }, "format"],
      [{ query: "format=ocsf&format=json" }, "format"],
    ] as const) {
      const { res } = await openStream(server.base, token, opts);
      expect(res.status, JSON.stringify(opts)).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect((await json(res)).errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await openStream(server.base, "not-a-token")).res.status).toBe(401);
    expect((await openStream(server.base, await tokenFor(tenant, "audit:write"))).res.status).toBe(403);
  });

  it("ends a stream when its token expires", async () => {
    const tenant = newTenant("expiry");
    const shortLived = await mintToken(TEST_SECRET, { sub: "user:brief", tenant, scope: "audit:read" }, 2);
    const { res, stream } = await openStream(server.base, shortLived);
    expect(res.status).toBe(200);
    await stream?.ended;
    const last = stream?.messages.at(-1);
    expect(last?.event).toBe("end");
    expect(JSON.parse(last?.data as string)).toMatchObject({ reason: "token_expired" });

    // A token valid for longer than a timer can wait (2^31 ms, ~24.8 days) does not end the stream.
    const longLived = await mintToken(
      TEST_SECRET,
      { sub: "user:long", tenant, scope: "audit:read" },
      40 * 86_400,
    );
    const { stream: kept } = await openStream(server.base, longLived);
    await sleep(500);
    expect(kept?.messages.some((m) => m.event === "end")).toBe(false);
    await post(tenant, [event({ id: "still-here" })]);
    await kept?.until(() => kept.received === 1);
    kept?.close();
  });

  it("finds events ingested through another replica", async () => {
    await withReplica({}, async (other) => {
      const tenant = newTenant("replica");
      const stream = await subscribe(tenant, { base: other.base });
      await post(tenant, batch("via-1", 6));
      await stream.until(() => stream.received === 6);
      expect(ids(stream)).toEqual(batch("via-1", 6).map((e) => e.id));
      stream.close();
    });
  });

  it("follows the data stream across a rollover, and resumes across it", async () => {
    const tenant = newTenant("rollover");
    const stream = await subscribe(tenant);
    await post(tenant, batch("before", 5));
    await stream.until(() => stream.received === 5);
    const midway = stream.messages[2]?.id as string;
    await client.indices.rollover({ alias: "audit-events" });
    await post(tenant, batch("after", 5));
    await stream.until(() => stream.received === 10);
    const expected = [...batch("before", 5), ...batch("after", 5)].map((e) => e.id);
    expect(ids(stream)).toEqual(expected);
    expect(parsePosition(stream.messages[9]?.id as string)?.gen).toBeGreaterThan(
      parsePosition(midway)?.gen as number,
    );
    stream.close();
    const again = await subscribe(tenant, { lastEventId: midway });
    await again.until(() => again.received === 7);
    await sleep(300);
    expect(ids(again)).toEqual(expected.slice(3));
    again.close();
  });
});

describe("live tail over a data stream with two shards", () => {
  it("delivers every event once with per-shard positions, resumes mid-way, and follows a rollover", async () => {
    const name = `tail-2shards-${Date.now().toString(36)}`;
    const template = JSON.parse(
      await readFile(new URL("../../index-templates/audit-events.json", import.meta.url), "utf8"),
    );
    template.index_patterns = [name];
    template.priority = 600;
    template.template.settings.index.number_of_shards = 2;
    await client.indices.putIndexTemplate({ name, body: template });
    await client.indices.createDataStream({ name });
    const hub = new StreamHub({ client, log: createLogger("silent"), settings: TEST_STREAM, stream: name });
    const tenant = { id: newTenant("shards"), since: null };
    const write = async (prefix: string, n: number) => {
      const events = batch(prefix, n).map((e) => normalize(e as IngestEvent, () => "x").event);
      const res = await client.bulk({
        body: bulkBody(name, tenant.id, events, new Date().toISOString()) as never,
      });
      expect(res.body.errors).toBe(false);
      return events.map((e) => e.id);
    };
    const read = (sub: Subscriber) => new SseStream(new Response(sub.body), new AbortController());
    try {
      const first = read(await hub.subscribe({ tenant, filters: {} }));
      await first.until(() => first.lastEventId !== "");
      const sent = (await Promise.all([write("s-a", 40), write("s-b", 40), write("s-c", 40)])).flat();
      await first.until(() => first.received === sent.length);
      expect([...ids(first)].sort()).toEqual([...sent].sort());
      const positions = first.messages.map((m) => parsePosition(m.id) as Position);
      expect(positions.every((p) => p.seq.length === 2)).toBe(true);
      // Both shards took events, and every position is at or past the one before it.
      expect(new Set(positions.map((p) => p.seq.join())).size).toBe(sent.length);
      expect(positions.at(-1)?.seq.every((s) => s > 0)).toBe(true);
      for (const [i, p] of positions.slice(1).entries())
        expect(reached(p, positions[i] as Position)).toBe(true);

      const from = positions[49] as Position;
      const resumed = read(await hub.subscribe({ tenant, filters: {}, from }));
      await resumed.until(() => resumed.received === sent.length - 50);
      expect([...ids(resumed)].sort()).toEqual(ids(first).slice(50).sort());

      await client.indices.rollover({ alias: name });
      const more = await write("s-d", 30);
      await first.until(() => first.received === sent.length + 30);
      await resumed.until(() => resumed.received === sent.length - 50 + 30);
      await sleep(300);
      expect(new Set(ids(first)).size).toBe(first.received);
      expect(ids(first).slice(sent.length).sort()).toEqual([...more].sort());
      expect(
        ids(resumed)
          .slice(sent.length - 50)
          .sort(),
      ).toEqual([...more].sort());
    } finally {
      await hub.close();
      await client.indices.deleteDataStream({ name });
      await client.indices.deleteIndexTemplate({ name });
    }
  });
});

describe("live tail under load and at its limits", () => {
  it("serves 200 concurrent subscribers on one replica", async () => {
    await withReplica({ maxPerTenant: 200, maxTotal: 200 }, async (crowd) => {
      const tenant = newTenant("crowd");
      const token = await readToken(tenant);
      const streams = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          // Half with a filter, so the shared feed matches per subscriber.
          const { res, stream } = await openStream(crowd.base, token, i % 2 ? { query: "action=read" } : {});
          expect(res.status).toBe(200);
          return stream as SseStream;
        }),
      );
      expect(crowd.hub.size).toBe(200);
      const over = await openStream(crowd.base, token);
      expect(over.res.status).toBe(429);

      const acked = new Map<string, number>();
      const began = performance.now();
      const rounds = 40;
      for (let r = 0; r < rounds; r++) {
        const events = batch(`crowd-${r}`, 10, { action: "read" });
        const at = await post(tenant, events, crowd.app);
        for (const e of events) acked.set(e.id as string, at);
        await sleep(50);
      }
      const sent = acked.size;
      const rate = sent / ((performance.now() - began) / 1000);
      await Promise.all(streams.map((s) => s.until(() => s.received === sent, 30_000)));
      const latencies = streams.flatMap((s) =>
        s.messages.map((m) => m.at - (acked.get(JSON.parse(m.data).id) as number)),
      );
      const p95 = percentile(latencies, 0.95);
      console.log(
        `live tail, 200 subscribers: ${sent} events at ${rate.toFixed(0)} events/s → ${latencies.length} deliveries, p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
      );
      for (const s of streams) expect(s.received).toBe(sent);
      expect(p95).toBeLessThan(5000);
      for (const s of streams) s.close();
    });
  }, 120_000);

  it("limits streams per tenant and per replica with 429 and Retry-After", async () => {
    await withReplica({ maxPerTenant: 2, maxTotal: 3 }, async (limited) => {
      const a = await readToken(newTenant("lim-a"));
      const b = await readToken(newTenant("lim-b"));
      const a1 = await openStream(limited.base, a);
      const a2 = await openStream(limited.base, a);
      const a3 = await openStream(limited.base, a);
      expect([a1.res.status, a2.res.status, a3.res.status]).toEqual([200, 200, 429]);
      expect(a3.res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect((await json(a3.res)).detail).toMatch(/at most 2/);
      const b1 = await openStream(limited.base, b);
      const b2 = await openStream(limited.base, b);
      expect([b1.res.status, b2.res.status]).toEqual([200, 429]);
      expect((await json(b2.res)).detail).toMatch(/maximum of 3/);
      a1.stream?.close();
      await a1.stream?.ended;
      const deadline = Date.now() + 5000;
      while (limited.hub.size > 2 && Date.now() < deadline) await sleep(20);
      const a4 = await openStream(limited.base, a);
      expect(a4.res.status).toBe(200);
      for (const s of [a2, a4, b1]) s.stream?.close();
    });
  });

  it("tells a client too slow to keep up why it is disconnected; it resumes without a gap", async () => {
    await withReplica({ clientBufferBytes: 16 * 1024, closeGraceMs: 60_000 }, async (slow) => {
      const tenant = newTenant("slow");
      const token = await readToken(tenant);
      const req = http.get(`${slow.base}/v1/audit/stream`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const res = await new Promise<http.IncomingMessage>((resolve) => req.on("response", resolve));
      expect(res.statusCode).toBe(200);
      res.pause();
      const sent: string[] = [];
      const padding = "x".repeat(2000);
      for (let b = 0; b < 6; b++) {
        const events = batch(`slow-${b}`, 1000, { context: { note: padding } });
        await post(tenant, events, slow.app);
        sent.push(...events.map((e) => e.id as string));
      }
      const cutOff = async () =>
        (await slow.metrics.registry.getSingleMetricAsString("audit_stream_ended_total")).includes(
          'reason="slow_client"} 1',
        );
      const deadline = Date.now() + 20_000;
      while (!(await cutOff()) && Date.now() < deadline) await sleep(50);
      expect(await cutOff()).toBe(true);

      // The client reads again: what was queued, then the reason, then the end of the stream.
      const abort = new AbortController();
      const reader = new SseStream(new Response(Readable.toWeb(res) as ReadableStream), abort);
      await reader.ended;
      const last = reader.messages.at(-1);
      expect(last?.event).toBe("end");
      expect(JSON.parse(last?.data as string)).toMatchObject({ reason: "slow_client" });
      const got = ids(reader);
      expect(got.length).toBeLessThan(sent.length);
      expect(got).toEqual(sent.slice(0, got.length));

      const again = await subscribe(tenant, { base: slow.base, lastEventId: reader.lastEventId });
      await again.until(() => again.received === sent.length - got.length, 30_000);
      expect([...got, ...ids(again)]).toEqual(sent);
      again.close();
    });
  }, 90_000);

  it("ends every stream with a final message on shutdown, and takes no new ones", async () => {
    await withReplica({}, async (closing) => {
      const tenant = newTenant("bye");
      const streams = [
        await subscribe(tenant, { base: closing.base }),
        await subscribe(tenant, { base: closing.base }),
      ];
      await post(tenant, batch("bye", 3), closing.app);
      await Promise.all(streams.map((s) => s.until(() => s.received === 3)));
      await closing.hub.close();
      for (const s of streams) {
        await s.ended;
        const last = s.messages.at(-1);
        expect(last?.event).toBe("end");
        expect(JSON.parse(last?.data as string)).toMatchObject({ reason: "shutdown" });
      }
      const late = await openStream(closing.base, await readToken(tenant));
      expect(late.res.status).toBe(503);
      expect(late.res.headers.get("retry-after")).toMatch(/^\d+$/);
    });
  });
});
