import { describe, expect, it } from "vitest";
import { readDocument } from "../../src/events/event.mapping.ts";
import type { AuditEvent } from "../../src/events/event.schema.ts";
import { changesSearch } from "../../src/features/stream/stream.query.ts";
import { Subscriber } from "../../src/features/stream/stream.subscriber.ts";
import { eventFilter, textTokens } from "../../src/filters/filters.match.ts";
import {
  advance,
  formatPosition,
  isAfter,
  later,
  parsePosition,
  reached,
} from "../../src/opensearch/position.ts";
import { generationOf } from "../../src/opensearch/progress.ts";
import { inScope } from "../../src/tenancy/tenant-scope.ts";

describe("live-tail positions", () => {
  it("round-trip through their text form", () => {
    for (const p of [
      { gen: 1, seq: [0] },
      { gen: 3, seq: [41523] },
      { gen: 12, seq: [7, 0, 99] },
    ]) {
      expect(parsePosition(formatPosition(p))).toEqual(p);
    }
    expect(formatPosition({ gen: 3, seq: [41523, 2] })).toBe("3-41523-2");
  });

  it.each(["", "3", "3-", "-3-1", "0-5", "a-1", "3-1.5", "3--1", "3-1 ", `3-${"9".repeat(16)}`])(
    "%j is not a position",
    (text) => expect(parsePosition(text)).toBeUndefined(),
  );

  it("reads the generation from a backing index name", () => {
    expect(generationOf(".ds-audit-events-000003")).toBe(3);
    expect(() => generationOf("audit-events")).toThrow();
  });

  it("orders operations by generation, then per shard by sequence number", () => {
    const p = { gen: 2, seq: [10, 4] };
    expect(isAfter(2, 0, 10, p)).toBe(true);
    expect(isAfter(2, 0, 9, p)).toBe(false);
    expect(isAfter(2, 1, 3, p)).toBe(false);
    expect(isAfter(3, 0, 0, p)).toBe(true);
    expect(isAfter(1, 0, 500, p)).toBe(false);
  });

  it("advances past an operation, starting a newer generation afresh", () => {
    expect(advance({ gen: 2, seq: [10, 4] }, 2, 1, 8)).toEqual({ gen: 2, seq: [10, 9] });
    expect(advance({ gen: 2, seq: [10, 4] }, 2, 0, 3)).toEqual({ gen: 2, seq: [10, 4] });
    expect(advance({ gen: 2, seq: [10, 4] }, 3, 1, 0)).toEqual({ gen: 3, seq: [0, 1] });
  });

  it("compares and merges positions", () => {
    const a = { gen: 2, seq: [10, 4] };
    const b = { gen: 2, seq: [8, 6] };
    expect(later(a, b)).toEqual({ gen: 2, seq: [10, 6] });
    expect(later(a, { gen: 3, seq: [0] })).toEqual({ gen: 3, seq: [0] });
    expect(reached(a, b)).toBe(false);
    expect(reached(later(a, b), b)).toBe(true);
    expect(reached({ gen: 3, seq: [0] }, a)).toBe(true);
    expect(reached(a, { gen: 3, seq: [0] })).toBe(false);
  });
});

describe("live-tail reads", () => {
  it("the shared feed reads only the subscribed tenants, in store order", () => {
    expect(changesSearch(["a", "b"], { from: 5, to: 9 }, 100)).toEqual({
      query: {
        bool: {
          filter: [{ terms: { "scaivault.tenant": ["a", "b"] } }, { range: { _seq_no: { gte: 5, lte: 9 } } }],
        },
      },
      sort: [{ _seq_no: { order: "asc" } }],
      size: 100,
      seq_no_primary_term: true,
      track_total_hits: false,
    });
  });

  it("inScope, the in-memory twin of scoped, checks the tenant and the cut-off", () => {
    const doc = (tenant: string, ts: string) => readDocument({ "@timestamp": ts, scaivault: { tenant } });
    const t = { id: "acme", since: "2026-01-01T00:00:00.000000Z" };
    expect(inScope(t, doc("acme", "2026-01-01T00:00:00.000000Z"))).toBe(true);
    expect(inScope(t, doc("acme", "2025-12-31T23:59:59.999999Z"))).toBe(false);
    expect(inScope(t, doc("other", "2026-06-01T00:00:00.000000Z"))).toBe(false);
    expect(inScope({ id: "acme", since: null }, doc("acme", "1999-01-01T00:00:00.000000Z"))).toBe(true);
  });
});

const base: AuditEvent = {
  id: "e1",
  timestamp: "2026-11-26T14:30:05.123456Z",
  action: "read",
  path: "prod/db/password",
  identity: { id: "user:ana@acme.example", type: "user", session_id: null },
  source_ip: "10.1.2.3",
  user_agent: "scaivault-cli/2.3.1",
  request: { id: "req_1", method: "GET", status: 200, duration_ms: 1 },
  success: true,
  error_code: null,
  context: { rotation_reason: "Compromise_Suspected", ticket: "INC-4242" },
};
const e = (patch: Partial<AuditEvent>): AuditEvent => ({ ...base, ...patch });

describe("filters in memory", () => {
  it.each<[string, Parameters<typeof eventFilter>[0], AuditEvent, boolean]>([
    ["no filter", {}, base, true],
    ["from is inclusive", { from: base.timestamp }, base, true],
    ["to is exclusive", { to: base.timestamp }, base, false],
    ["to by a microsecond", { to: "2026-11-26T14:30:05.123457Z" }, base, true],
    ["actions", { actions: ["write", "rotate"] }, base, false],
    ["actions match", { actions: ["read"] }, base, true],
    ["identity id", { identityId: "user:ana@acme.example" }, base, true],
    ["identity id is exact", { identityId: "user:ana" }, base, false],
    ["identity type", { identityType: "group" }, base, false],
    ["path", { path: "prod/db" }, base, false],
    ["path prefix itself", { pathPrefix: "prod/db/password" }, base, true],
    ["path prefix below", { pathPrefix: "prod/db" }, base, true],
    ["path prefix on segments", { pathPrefix: "prod/d" }, base, false],
    ["success", { success: false }, base, false],
    ["address", { sourceIp: "10.1.2.3" }, base, true],
    ["CIDR", { sourceIp: "10.0.0.0/8" }, base, true],
    ["CIDR outside", { sourceIp: "192.168.0.0/16" }, base, false],
    ["IPv4-mapped IPv6", { sourceIp: "::ffff:10.1.2.3" }, base, true],
    ["IPv6 CIDR", { sourceIp: "2001:db8::/32" }, e({ source_ip: "2001:DB8::7" }), true],
    ["no address", { sourceIp: "10.0.0.0/8" }, e({ source_ip: null }), false],
    ["request id", { requestId: "req_1" }, base, true],
    ["q, any case, all words", { q: "compromise INC" }, base, true],
    ["q, a word missing", { q: "compromise nope" }, base, false],
    ["q, part of a word", { q: "compromis" }, base, false],
    ["q, in the path", { q: "password" }, base, true],
    ["q of punctuation only matches nothing", { q: "!!!" }, base, false],
    ["q not in context keys", { q: "ticket" }, base, false],
  ])("%s", (_name, filters, event, expected) => {
    expect(eventFilter(filters)(event)).toBe(expected);
  });

  it("splits text like the scaivault_text analyzer", () => {
    expect(textTokens("prod/db-password ÄRGER_2 x.y")).toEqual([
      "prod",
      "db",
      "password",
      "ärger",
      "2",
      "x",
      "y",
    ]);
  });
});

/** Reads what a subscriber's body has produced so far, as text. */
async function drain(sub: Subscriber, chunks = 1): Promise<string> {
  const reader = sub.body.getReader();
  let text = "";
  for (let i = 0; i < chunks; i++) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text;
}

describe("a subscriber's buffer", () => {
  const make = (bufferBytes = 1000) => {
    let gone = 0;
    const sub = new Subscriber({
      tenant: { id: "t", since: null },
      accepts: () => true,
      pos: { gen: 1, seq: [5] },
      bufferBytes,
      retryMs: 2000,
      onGone: () => gone++,
    });
    return { sub, gone: () => gone };
  };

  it("frames events with their position as the id, after a retry hint", async () => {
    const { sub } = make();
    expect(sub.event({ gen: 1, seq: [6] }, '{"id":"a"}')).toBe(true);
    expect(await drain(sub)).toBe('retry: 2000\n\nid: 1-6\ndata: {"id":"a"}\n\n');
    expect(sub.pos).toEqual({ gen: 1, seq: [6] });
  });

  it("sends an id without data only when the position moved", async () => {
    const { sub } = make();
    sub.checkpoint();
    sub.heartbeat();
    sub.pos = { gen: 1, seq: [9] };
    sub.heartbeat();
    expect(await drain(sub)).toBe("retry: 2000\n\nid: 1-5\n\n: heartbeat\n\n: heartbeat\nid: 1-9\n\n");
  });

  it("reports an overflow, and a slow client's end drops the backlog but says why", async () => {
    const { sub, gone } = make(200);
    expect(sub.event({ gen: 1, seq: [6] }, "x".repeat(100))).toBe(true);
    expect(sub.event({ gen: 1, seq: [7] }, "y".repeat(100))).toBe(false);
    sub.end("slow_client", { dropQueued: true, graceMs: 1000 });
    expect(sub.gone).toBe(true);
    const text = await drain(sub, 3);
    expect(text).not.toContain("xxx");
    expect(text).toMatch(
      /^event: end\ndata: \{"reason":"slow_client","detail":"[^"]+Last-Event-ID[^"]+"\}\n\n$/,
    );
    await sub.closed;
    expect(gone()).toBe(1);
  });

  it("on shutdown delivers what was queued, then the end message, then closes", async () => {
    const { sub } = make();
    sub.event({ gen: 1, seq: [6] }, "{}");
    sub.end("shutdown");
    const text = await drain(sub, 3);
    expect(text).toContain("id: 1-6\ndata: {}\n\n");
    expect(text.endsWith('"}\n\n')).toBe(true);
    expect(text).toContain('"reason":"shutdown"');
    await sub.closed;
  });

  it("cuts a client that does not read its final message within the grace period", async () => {
    const { sub, gone } = make();
    sub.end("shutdown", { graceMs: 20 });
    await sub.closed;
    expect(gone()).toBe(1);
    await expect(sub.body.getReader().read()).rejects.toThrow(/did not read/);
  });

  it("lets a catch-up wait for room", async () => {
    const { sub } = make(200);
    sub.event({ gen: 1, seq: [6] }, "x".repeat(150));
    let roomy = false;
    void sub.room().then(() => {
      roomy = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(roomy).toBe(false);
    await drain(sub);
    await new Promise((r) => setTimeout(r, 0));
    expect(roomy).toBe(true);
  });
});
