/**
 * Slow and idle clients cannot hold connections, and no address can take them all: each case on a
 * real socket against the real server, with short limits so it runs in seconds.
 */
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConnectionSettings, startServer } from "../../src/http/server.ts";
import { DEAD_OPENSEARCH, testApp, tokenFor } from "../support/app.ts";

const LIMITS: ConnectionSettings = {
  headersTimeoutMs: 1000,
  requestTimeoutMs: 2000,
  keepAliveTimeoutMs: 500,
  maxConnections: 6,
  maxPerAddress: 3,
};

let port: number;
let close: () => Promise<void>;

beforeAll(async () => {
  const { app } = testApp(DEAD_OPENSEARCH);
  const server = await new Promise<ReturnType<typeof startServer>>((resolve) => {
    const s = startServer(app.fetch, { port: 0, hostname: "127.0.0.1", connections: LIMITS }, () =>
      resolve(s),
    );
  });
  port = (server.address() as AddressInfo).port;
  close = () =>
    new Promise((r) => {
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      server.close(() => r());
    });
});
afterAll(() => close());

/** A raw connection: what it received and when it was closed (ms after opening). */
function connect(localAddress = "127.0.0.1") {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  const opened = Date.now();
  let received = "";
  socket.on("data", (d) => {
    received += d.toString("latin1");
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - opened)));
  const ready = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, ready, closed, received: () => received };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The status and problem body of a raw HTTP response. */
function parse(raw: string): { status: number; type: string; body: any } {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const type = /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? "";
  return { status, type, body: body ? JSON.parse(body) : undefined };
}

describe("slow and idle clients", () => {
  it("a connection that sends nothing is answered 408 and closed once the header time is up", async () => {
    const c = connect();
    const after = await c.closed;
    expect(after).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 50);
    expect(after).toBeLessThan(LIMITS.headersTimeoutMs + 2500);
    const res = parse(c.received());
    expect(res.status).toBe(408);
    expect(res.type).toBe("application/problem+json");
    expect(res.body.status).toBe(408);
  });

  it("headers sent a byte at a time are cut off at the header time", async () => {
    const c = connect();
    await c.ready;
    const line = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    c.socket.write(line);
    const drip = setInterval(() => c.socket.writable && c.socket.write("a"), 200);
    const after = await c.closed;
    clearInterval(drip);
    expect(after).toBeLessThan(LIMITS.headersTimeoutMs + 2500);
    expect(parse(c.received()).status).toBe(408);
  });

  it("a body trickled in is cut off at the request time, though every byte keeps the socket busy", async () => {
    const token = await tokenFor("acme", "audit:write");
    const c = connect();
    await c.ready;
    c.socket.write(
      `POST /v1/audit/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    );
    const drip = setInterval(() => c.socket.writable && c.socket.write(" "), 200);
    const after = await c.closed;
    clearInterval(drip);
    expect(after).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 50);
    expect(after).toBeLessThan(LIMITS.requestTimeoutMs + 2500);
    expect(parse(c.received()).status).toBe(408);
  });

  it("an idle keep-alive connection is closed after the keep-alive time", async () => {
    const c = connect();
    await c.ready;
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    const after = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(after).toBeLessThan(LIMITS.keepAliveTimeoutMs + 2500);
  });
});

describe("connection caps", () => {
  it("an address past its cap gets 429; the server past its total gets 503; closing frees a slot", async () => {
    const held = [connect(), connect(), connect()];
    await Promise.all(held.map((c) => c.ready));
    await sleep(50);
    const fourth = connect();
    await fourth.closed;
    const refused = parse(fourth.received());
    expect(refused.status).toBe(429);
    expect(refused.type).toBe("application/problem+json");
    expect(fourth.received()).toMatch(/Retry-After: 1/);

    // Other loopback addresses fill the server: 3 + 3 = 6, the total.
    const others = [connect("127.0.0.2"), connect("127.0.0.2"), connect("127.0.0.2")];
    await Promise.all(others.map((c) => c.ready));
    await sleep(50);
    const seventh = connect("127.0.0.3");
    await seventh.closed;
    expect(parse(seventh.received()).status).toBe(503);

    held[0]?.socket.destroy();
    await held[0]?.closed;
    await sleep(50);
    const again = connect();
    await again.ready;
    again.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await again.closed;
    expect(again.received()).toMatch(/^HTTP\/1\.1 200/);
    for (const c of [...held, ...others]) c.socket.destroy();
  });
});
