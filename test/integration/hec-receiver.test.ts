/**
 * The splunk_hec destination's receiver (test/support/hec-receiver.ts): the OpenTelemetry
 * Collector's splunk_hec receiver behind a Splunk-style token check takes a batch of concatenated
 * JSON events and gives every one back — body, microsecond time, host, source, sourcetype, index,
 * fields — refuses a wrong token with Splunk's codes, acknowledges by channel, and stops without
 * leftovers. A failure here most likely means the hec-receiver step of .ci/run did not run.
 *
 * This file needs no OpenSearch; to skip the one the integration project starts, name any URL:
 *   OPENSEARCH_URL=http://127.0.0.1:9 npx vitest run --project integration test/integration/hec-receiver.test.ts
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HecEvent, type HecReceiver, startHecReceiver } from "../support/hec-receiver.ts";
import { alive } from "../support/process.ts";

interface Sent {
  time: number;
  host: string;
  source: string;
  sourcetype: string;
  index?: string;
  event: Record<string, unknown>;
  fields?: Record<string, unknown>;
}

// 2026-12-05T17:00:00.000001Z and on: microseconds that a float64 of epoch seconds carries (≈0.24 µs apart there).
const BASE_MICROS = 1_796_490_000_000_001;

function auditEvent(i: number): Sent {
  const micros = BASE_MICROS + i * 1_234_567 + (i % 7) * 111_111;
  return {
    time: micros / 1e6,
    host: "scaivault-audit-0",
    source: "scaivault:audit",
    sourcetype: "scaivault:audit:event",
    index: "audit",
    event: {
      id: `evt-${String(i).padStart(4, "0")}`,
      tenant_id: "acme",
      action: i % 3 ? "document.read" : "user.login",
      outcome: i % 5 === 4 ? "failure" : "success",
      actor: { id: `u-${i}`, type: "user", ip: `10.0.0.${i}` },
      // What JSON carries that a flattening receiver could lose: nesting, unicode, null, numbers, booleans.
      context: {
        note: `zählt ✓ "${i}" \\ </script>`,
        size: i * 1024,
        ratio: i / 8,
        tags: ["a", i, true, null],
      },
      retain: null,
    },
    fields: { tenant: "acme", seq: i },
  };
}

const expected = (s: Sent): HecEvent => ({
  event: s.event,
  time: s.time,
  timeUnixNano: expect.any(String) as unknown as string,
  host: s.host,
  source: s.source,
  sourcetype: s.sourcetype,
  index: s.index,
  fields: s.fields ?? {},
});

async function post(
  hec: HecReceiver,
  body: string,
  headers: Record<string, string> = { Authorization: `Splunk ${hec.token}` },
  path = "/services/collector/event",
) {
  const res = await fetch(hec.url + path, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("Splunk HEC receiver (OpenTelemetry Collector splunk_hec)", () => {
  let hec: HecReceiver;

  beforeAll(async () => {
    hec = await startHecReceiver({ token: randomUUID() });
  });
  afterAll(async () => {
    await hec?.stop();
  });

  it("takes 20 concatenated events in one POST and gives each back exactly, in order, with its microseconds", async () => {
    const sent = Array.from({ length: 20 }, (_, i) => auditEvent(i));
    // Concatenated, no separator: what the destination sends.
    const res = await post(hec, sent.map((s) => JSON.stringify(s)).join(""));
    expect(res).toEqual({ status: 200, body: { text: "Success", code: 0 } });
    // The file exporter writes before the answer: nothing to wait for.
    const got = await hec.received();
    expect(got).toEqual(sent.map(expected));
    for (const [i, e] of got.entries()) {
      // The receiver keeps seconds × 1e9 from a float64: within half a microsecond, not to the nanosecond.
      const sentNs = BigInt(BASE_MICROS + i * 1_234_567 + (i % 7) * 111_111) * 1000n;
      const off = BigInt(e.timeUnixNano as string) - sentNs;
      expect(off < 0n ? -off : off).toBeLessThan(500n);
    }
  });

  it("refuses a missing token (401, code 2), another scheme (401, code 3) and a wrong token (403, code 4), storing nothing", async () => {
    const before = (await hec.received()).length;
    const body = JSON.stringify(auditEvent(99));
    expect(await post(hec, body, {})).toEqual({ status: 401, body: { text: "Token is required", code: 2 } });
    expect(await post(hec, body, { Authorization: `Bearer ${hec.token}` })).toEqual({
      status: 401,
      body: { text: "Invalid authorization", code: 3 },
    });
    expect(await post(hec, body, { Authorization: `Splunk ${randomUUID()}` })).toEqual({
      status: 403,
      body: { text: "Invalid token", code: 4 },
    });
    expect(await hec.received()).toHaveLength(before);
  });

  it("answers bad input with Splunk's codes: no data (5), invalid data format (6), event required (12)", async () => {
    const before = (await hec.received()).length;
    expect(await post(hec, "")).toEqual({ status: 400, body: { text: "No data", code: 5 } });
    expect(await post(hec, "{not json")).toEqual({
      status: 400,
      body: { text: "Invalid data format", code: 6 },
    });
    expect(await post(hec, JSON.stringify({ time: 1, host: "h" }))).toEqual({
      status: 400,
      body: { text: "Event field is required", code: 12 },
    });
    expect(await hec.received()).toHaveLength(before);
  });

  it("indexer acknowledgement: a request on a channel gets an ackId that /services/collector/ack reports true", async () => {
    const channel = randomUUID();
    const headers = { Authorization: `Splunk ${hec.token}`, "X-Splunk-Request-Channel": channel };
    const first = await post(hec, JSON.stringify(auditEvent(30)), headers);
    const second = await post(hec, JSON.stringify(auditEvent(31)), headers);
    expect(first).toEqual({ status: 200, body: { text: "Success", code: 0, ackId: expect.any(Number) } });
    const ids = [first.body.ackId, second.body.ackId] as number[];
    // Per channel, counting up (from 1 here; Splunk counts from 0).
    expect(ids[1]).toBe((ids[0] as number) + 1);
    const acks = await post(hec, JSON.stringify({ acks: [...ids, 999] }), headers, "/services/collector/ack");
    expect(acks).toEqual({
      status: 200,
      body: { acks: { [String(ids[0])]: true, [String(ids[1])]: true, "999": false } },
    });
    // Another channel knows none of them; the ack endpoint wants the token too.
    const other = { ...headers, "X-Splunk-Request-Channel": randomUUID() };
    expect((await post(hec, JSON.stringify({ acks: ids }), other, "/services/collector/ack")).body).toEqual({
      acks: { [String(ids[0])]: false, [String(ids[1])]: false },
    });
    expect(
      (
        await post(
          hec,
          JSON.stringify({ acks: ids }),
          { "X-Splunk-Request-Channel": channel },
          "/services/collector/ack",
        )
      ).status,
    ).toBe(401);
    expect(
      (await post(hec, JSON.stringify(auditEvent(32)), { ...headers, "X-Splunk-Request-Channel": "nope" }))
        .body,
    ).toEqual({ text: "Invalid data channel", code: 11 });
  });

  it("within one request, events are grouped by host, source, sourcetype and index (a difference from Splunk)", async () => {
    const before = (await hec.received()).length;
    const a = { ...auditEvent(40), index: "audit-a" };
    const b = { ...auditEvent(41), index: "audit-b" };
    const c = { ...auditEvent(42), index: "audit-a" };
    const { index: _, ...noIndex } = auditEvent(43);
    expect((await post(hec, [a, b, c, noIndex].map((s) => JSON.stringify(s)).join("\n"))).status).toBe(200);
    const got = (await hec.received()).slice(before);
    expect(got).toEqual([a, c, b, noIndex].map(expected));
    expect(got[3]?.index).toBeUndefined();
  });

  it("stop() ends the receiver and its process group, frees its port, and keeps what it received", async () => {
    const { pid, url } = hec;
    const received = await hec.received();
    expect(received.length).toBeGreaterThanOrEqual(20);
    await hec.stop();
    expect(alive(pid)).toBe(false);
    expect(() => process.kill(-pid, 0)).toThrow();
    await expect(fetch(`${url}/services/collector/health`)).rejects.toThrow();
    expect(await hec.received()).toEqual(received);
    await hec.stop();
  });
});
