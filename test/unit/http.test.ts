import { type AddressInfo, connect } from "node:net";
import { errors } from "@opensearch-project/opensearch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProblemError, toProblem } from "../../src/http/problem.ts";
import { startServer } from "../../src/http/server.ts";
import { DEAD_OPENSEARCH, json, testApp, tokenFor } from "../support/app.ts";

describe("toProblem", () => {
  it("keeps a ProblemError's status, detail, fields and headers", () => {
    const p = toProblem(
      new ProblemError(400, "bad", { errors: [{ field: "limit", message: "too big" }], headers: { A: "b" } }),
    );
    expect(p.body).toMatchObject({
      status: 400,
      title: "Bad Request",
      detail: "bad",
      errors: [{ field: "limit" }],
    });
    expect(p.body.type).toBe("urn:scaivault:problem:bad-request");
    expect(p.headers).toEqual({ A: "b" });
    expect(p.unexpected).toBe(false);
  });

  it("turns an unreachable OpenSearch into 503 with Retry-After", () => {
    const p = toProblem(new errors.ConnectionError("connect ECONNREFUSED 127.0.0.1:9200"));
    expect(p.body.status).toBe(503);
    expect(p.headers["Retry-After"]).toMatch(/^\d+$/);
    expect(JSON.stringify(p.body)).not.toContain("ECONNREFUSED");
  });

  it("turns OpenSearch back-pressure into 429 with Retry-After", () => {
    const err = new errors.ResponseError({
      body: { error: { type: "es_rejected_execution_exception", reason: "queue full on node x" } },
      statusCode: 429,
      headers: {},
      warnings: null,
      meta: {} as never,
    });
    const p = toProblem(err);
    expect(p.body.status).toBe(429);
    expect(p.headers["Retry-After"]).toBeDefined();
    expect(JSON.stringify(p.body)).not.toContain("queue full");
  });

  it("hides anything else behind an opaque 500", () => {
    const err = new errors.ResponseError({
      body: { error: { type: "search_phase_execution_exception", reason: "shard [audit-events][0] failed" } },
      statusCode: 400,
      headers: {},
      warnings: null,
      meta: {} as never,
    });
    for (const e of [err, new TypeError("cannot read x of undefined")]) {
      const p = toProblem(e);
      expect(p.body.status).toBe(500);
      expect(p.unexpected).toBe(true);
      expect(JSON.stringify(p.body)).not.toMatch(/shard|undefined|TypeError/);
    }
  });
});

describe("HTTP basics", () => {
  it("answers unknown routes with a problem+json 404 and a request id", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    const res = await app.request("/v1/audit/nothing-here");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = await json(res);
    expect(body).toMatchObject({ status: 404, title: "Not Found", type: "urn:scaivault:problem:not-found" });
    expect(body.request_id).toBe(res.headers.get("x-request-id"));
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a wrong method with 405, Allow and problem+json", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    const res = await app.request("/healthz", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("keeps a caller's request id", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    const res = await app.request("/healthz", { headers: { "X-Request-Id": "trace-42" } });
    expect(res.headers.get("x-request-id")).toBe("trace-42");
  });

  it("rejects a body over the limit with 413", async () => {
    const { app } = testApp(DEAD_OPENSEARCH, { bodyLimitBytes: 1024 });
    const res = await app.request("/v1/audit/events", {
      method: "POST",
      body: "x".repeat(2048),
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await json(res)).detail).toMatch(/1024 bytes/);
  });

  it("never leaks a thrown error's message or stack, but logs it", async () => {
    const { app, lines } = testApp(DEAD_OPENSEARCH);
    app.get("/boom", () => {
      throw new Error("secret internal detail");
    });
    const res = await app.request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("secret internal detail");
    expect(text).not.toContain("at ");
    expect(lines.some((l) => l.includes("secret internal detail"))).toBe(true);
  });

  it("logs each request as JSON without tokens, query strings or bodies", async () => {
    const { app, lines } = testApp(DEAD_OPENSEARCH);
    await app.request("/healthz?q=prod/db-password", {
      headers: { Authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.sekrit" },
    });
    const entry = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "request");
    expect(entry).toMatchObject({ method: "GET", path: "/healthz", status: 200 });
    expect(typeof entry.duration_ms).toBe("number");
    expect(entry.req_id).toBeTruthy();
    expect(lines.join("\n")).not.toMatch(/sekrit|eyJ|db-password|Bearer/);
  });

  it("says it is alive without OpenSearch, and not ready", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    expect((await app.request("/healthz")).status).toBe(200);
    const res = await app.request("/readyz");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await json(res)).toEqual({
      status: "not_ready",
      checks: { opensearch: "down", bootstrap: "pending" },
    });
  });

  it("answers a live tail without OpenSearch with 503 and Retry-After, not a stream", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    const res = await app.request("/v1/audit/stream", {
      headers: { Authorization: `Bearer ${await tokenFor("acme", "audit:read")}` },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("serves its OpenAPI 3.1 document and a docs page", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    const doc = await json(await app.request("/openapi.json"));
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/healthz", "/readyz", "/metrics", "/v1/audit/stream"]),
    );
    const tail = doc.paths["/v1/audit/stream"].get;
    expect(Object.keys(tail.responses["200"].content)).toEqual(["text/event-stream"]);
    expect(tail.responses["429"]).toBeDefined();
    expect(tail.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(["action", "path_prefix", "q", "last_event_id", "last-event-id"]),
    );
    expect(doc.components.schemas.Readiness).toBeDefined();
    const docs = await app.request("/docs");
    expect(docs.status).toBe(200);
    expect(docs.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(docs.headers.get("X-Frame-Options")).toBe("DENY");
    // Every script and stylesheet comes from the service itself, so the page works offline.
    const page = await docs.text();
    const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    let init = "";
    for (const asset of assets) {
      expect(asset.startsWith("/docs/")).toBe(true);
      const res = await app.request(asset);
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body.length).toBeGreaterThan(0);
      if (asset.endsWith("init.js")) init = body;
    }
    expect(page).not.toMatch(/<script>(?!<)/); // no inline script: the CSP forbids it
    expect(init).toContain("/openapi.json");
  });
});

describe("/metrics", () => {
  it("exposes Prometheus text with request counts by route pattern, never by raw path", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    await app.request("/healthz");
    await app.request("/healthz");
    await app.request("/v1/audit/nothing/prod/payments/db-password");
    await app.request("/v1/audit/secrets/prod/payments/db-password"); // 401: no token
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/healthz",status="200"\} 2/);
    expect(text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/v1\/audit\/secrets\/\{path\}",status="401"\} 1/,
    );

    expect(text).toContain("http_request_duration_seconds_bucket");
    expect(text).toContain("process_cpu_seconds_total");
    expect(text).not.toContain("db-password");
  });
});

describe("security headers", () => {
  it("are on every response: answers, errors, unknown routes, docs", async () => {
    const { app } = testApp(DEAD_OPENSEARCH);
    const token = await tokenFor("acme", "audit:read");
    for (const [path, init] of [
      ["/healthz", {}],
      ["/v1/audit/logs", {}],
      ["/v1/audit/logs?limit=0", { headers: { Authorization: `Bearer ${token}` } }],
      ["/nowhere", {}],
      ["/openapi.json", {}],
      ["/docs", {}],
    ] as const) {
      const res = await app.request(path, init);
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect(res.headers.get("Referrer-Policy"), path).toBe("no-referrer");
      if (!path.startsWith("/docs")) expect(res.headers.get("Cache-Control"), path).toBe("no-store");
    }
  });
});

describe("oversized requests get problem+json, not a reset or a bare status", () => {
  const { app } = testApp(DEAD_OPENSEARCH);
  let base: { port: number; close: () => Promise<void> };

  beforeAll(async () => {
    const server = await new Promise<ReturnType<typeof startServer>>((resolve) => {
      const s = startServer(app.fetch, { port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    base = {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise((r) => server.close(() => r())),
    };
  });
  afterAll(() => base.close());

  /** Sends raw bytes and reads the whole answer (the connection is closed after it). */
  const raw = (request: string) =>
    new Promise<{ status: number; headers: string; body: string }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(base.port, "127.0.0.1", () => socket.write(request));
      socket.on("data", (d) => chunks.push(d));
      socket.on("error", reject);
      socket.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const [head = "", body = ""] = text.split("\r\n\r\n");
        resolve({ status: Number(head.split(" ")[1]), headers: head, body });
      });
    });

  it.each([
    ["a 100 KB query string", `GET /v1/audit/logs?q=${"a".repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ["a 1 MB cursor", `GET /v1/audit/logs?cursor=${"c".repeat(1_000_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    [
      "2,000 repeated parameters",
      `GET /v1/audit/logs?${"action=read&".repeat(2000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      414,
    ],
    ["a 20 KB header", `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`, 431],
    ["bytes that are not HTTP", "HELLO\r\n\r\n", 400],
  ])("%s", async (_name, request, status) => {
    const res = await raw(request);
    expect(res.status).toBe(status);
    expect(res.headers).toContain("Content-Type: application/problem+json");
    expect(JSON.parse(res.body)).toMatchObject({
      status,
      type: expect.stringContaining("urn:scaivault:problem:"),
    });
  });

  it("a long target below the parser's limit: 414 from the app; many parameters or a long cursor: 400", async () => {
    const token = await tokenFor("acme", "audit:read");
    const headers = { Authorization: `Bearer ${token}` };
    const long = await app.request(`/v1/audit/logs?q=${"a".repeat(9_000)}`, { headers });
    expect(long.status).toBe(414);
    expect(long.headers.get("content-type")).toBe("application/problem+json");
    const many = await app.request(`/v1/audit/logs?${"action=read&".repeat(150)}`, { headers });
    expect(many.status).toBe(400);
    expect((await json(many)).errors).toEqual([{ field: "query", message: expect.stringContaining("150") }]);
    const cursor = await app.request(`/v1/audit/logs?cursor=${"c".repeat(5_000)}`, { headers });
    expect(cursor.status).toBe(400);
    expect((await json(cursor)).errors).toEqual([{ field: "cursor", message: expect.any(String) }]);
  });
});
