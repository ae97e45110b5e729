/**
 * Requests never wait out a stalled store. The store here is a socket that accepts connections and
 * never answers — what a paused OpenSearch looks like from the client (test/integration/faults
 * pauses a real one). Deadlines are short so the cases run in seconds; the bounds on elapsed time
 * are loose: they tell "answered" from "hung for the whole deadline or outage".
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEAD_OPENSEARCH, json, testApp, tokenFor } from "../support/app.ts";

let blackHole: net.Server;
let url: string;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  blackHole = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(blackHole.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => blackHole.close(r));
});

const get = async (app: ReturnType<typeof testApp>["app"], path: string, scope = "audit:read") => {
  const began = Date.now();
  const res = await app.request(path, {
    headers: { Authorization: `Bearer ${await tokenFor("acme", scope)}` },
  });
  return { res, ms: Date.now() - began, body: await json(res) };
};

const LONG = { pageMs: 20_000, aggregationMs: 20_000, ingestMs: 20_000 };

describe("deadlines", () => {
  it("a request whose deadline passes gets 504 problem+json with Retry-After, at its deadline", async () => {
    const { app } = testApp(url, { deadlines: { pageMs: 400, aggregationMs: 800, ingestMs: 400 } });
    const page = await get(app, "/v1/audit/logs?limit=5");
    expect(page.res.status).toBe(504);
    expect(page.res.headers.get("content-type")).toBe("application/problem+json");
    expect(page.res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(page.body.detail).toMatch(/deadline/);
    expect(page.ms).toBeGreaterThanOrEqual(390);
    expect(page.ms).toBeLessThan(3000);

    // An aggregation has its own, longer deadline.
    const summary = await get(app, "/v1/audit/summary?from=now-1d");
    expect(summary.res.status).toBe(504);
    expect(summary.ms).toBeGreaterThanOrEqual(790);
    expect(summary.ms).toBeLessThan(3500);

    const ingest = await app.request("/v1/audit/events", {
      method: "POST",
      body: JSON.stringify({
        events: [{ action: "read", path: "a/b", identity: { id: "u", type: "user" } }],
      }),
      headers: {
        Authorization: `Bearer ${await tokenFor("acme", "audit:write")}`,
        "Content-Type": "application/json",
      },
    });
    expect(ingest.status).toBe(504);
    expect(JSON.stringify(await json(ingest))).not.toMatch(/TimeoutError|Exception|opensearch/i);
  });
});

describe("the breaker", () => {
  it("opens on stalled probes: requests waiting are cut short with 503, new ones refused at once", async () => {
    const t = testApp(url, { deadlines: LONG, health: { probeIntervalMs: 200, probeTimeoutMs: 300 } });
    try {
      const waiting = get(t.app, "/v1/audit/logs?limit=5");
      const first = await waiting;
      expect(first.res.status).toBe(503);
      expect(first.res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(first.ms).toBeLessThan(5000); // not the 20 s deadline
      expect(t.health.down).toBe(true);

      const next = await get(t.app, "/v1/audit/anomalies?from=now-1d&to=now&group_by=path");
      expect(next.res.status).toBe(503);
      expect(next.ms).toBeLessThan(1000);
      // /readyz says the same as the breaker.
      const ready = await t.app.request("/readyz");
      expect(ready.status).toBe(503);
      expect((await json(ready)).checks.opensearch).toBe("down");
    } finally {
      t.health.stop();
    }
  });

  it("opens on a refused connection, without waiting for a probe", async () => {
    const t = testApp(DEAD_OPENSEARCH, { deadlines: LONG });
    const first = await get(t.app, "/v1/audit/logs");
    expect(first.res.status).toBe(503);
    expect(t.health.down).toBe(true);
    expect(JSON.stringify(first.body)).not.toMatch(/ECONNREFUSED|Error|at /);
  });
});

describe("the breaker's half-open step", () => {
  it("without a background probe, a request probes once and is answered 503 at once", async () => {
    const t = testApp(DEAD_OPENSEARCH, { deadlines: LONG });
    expect((await get(t.app, "/v1/audit/logs")).res.status).toBe(503);
    expect(t.health.down).toBe(true);
    const request = t.client.transport.request.bind(t.client.transport);
    const paths: string[] = [];
    t.client.transport.request = ((params: { path: string }, ...rest: unknown[]) => {
      paths.push(params.path);
      return (request as (...a: unknown[]) => unknown)(params, ...rest);
    }) as typeof t.client.transport.request;
    await new Promise((r) => setTimeout(r, 1100)); // past the probe interval
    const again = await get(t.app, "/v1/audit/logs");
    expect(again.res.status).toBe(503);
    // The request's one call, refused by the breaker after one probe (no retry, no probe loop).
    expect(paths.sort()).toEqual(["/_cluster/health", "/scaivault-tenants/_doc/acme%3Aretention"]);
  });
});
