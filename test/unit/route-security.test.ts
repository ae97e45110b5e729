/**
 * Every route's scope, checked for every route from the document itself: a route added tomorrow
 * is covered without touching this file. Each /v1 operation must declare exactly one scope, and
 * the running app must enforce exactly that one — 401 without a token, 403 with every other
 * scope, and with the scope the request gets past the guard (an unknown parameter is then a 400
 * naming it, which needs no OpenSearch).
 */
import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { parseSourceIp } from "../../src/filters/filters.ts";
import { SCOPES } from "../../src/http/auth.ts";
import { DEAD_OPENSEARCH, json, testApp, tokenFor } from "../support/app.ts";

const { app } = testApp(DEAD_OPENSEARCH);
const doc = await json(await app.request("/openapi.json"));

type Operation = { method: string; path: string; scopes: string[]; url: string; operationId: string };

/** A value of the right shape for each path parameter, so the route itself is reached. */
const PATH_VALUES: Record<string, string> = {
  path: "prod/payments/db-password",
  identity_id: "user:alice@example.com",
  id: "exp_01JDQ3Z8K4W6Y2N9R5T7V1X3B8",
};

const operations: Operation[] = Object.entries(doc.paths as Record<string, Record<string, any>>)
  .filter(([path]) => path.startsWith("/v1/"))
  .flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      scopes: (op.security ?? []).flatMap((s: { bearer?: string[] }) => s.bearer ?? []),
      operationId: op.operationId,
      url: path.replace(/\{(\w+)\}/g, (_, name: string) => {
        const value = PATH_VALUES[name];
        if (!value) throw new Error(`no test value for path parameter {${name}} of ${path}`);
        return encodeURIComponent(value);
      }),
    })),
  );

const send = (op: Operation, token?: string, query = "") =>
  app.request(`${op.url}${query}`, {
    method: op.method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(op.method === "GET" || op.method === "DELETE" ? {} : { "Content-Type": "application/json" }),
    },
    ...(op.method === "GET" || op.method === "DELETE" ? {} : { body: "{}" }),
  });

describe("every route declares its scope and enforces exactly that one", () => {
  it("the document lists every /v1 route the app serves", () => {
    const served = new Set(
      app.routes
        .filter((r) => r.path.startsWith("/v1/") && r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}")}`),
    );
    const documented = new Set(operations.map((op) => `${op.method} ${op.path}`));
    expect([...served].sort()).toEqual([...documented].sort());
    expect(operations.length).toBeGreaterThanOrEqual(15);
  });

  it.each(operations)("$method $path declares one known scope and an operationId", (op) => {
    expect(op.scopes).toHaveLength(1);
    expect(SCOPES).toContain(op.scopes[0]);
    expect(op.operationId).toMatch(/^[a-z][A-Za-z]+$/);
  });

  it("operationIds are unique (clients are generated from them)", () => {
    const ids = operations.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(operations)("$method $path: 401 without a token", async (op) => {
    const res = await send(op);
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it.each(operations)("$method $path: 403 with every scope but its own", async (op) => {
    const others = SCOPES.filter((s) => s !== op.scopes[0]).join(" ");
    const res = await send(op, await tokenFor("acme", others));
    expect(res.status).toBe(403);
    const body = await json(res);
    expect(body.detail).toContain(op.scopes[0]);
  });

  it.each(operations)("$method $path: its scope alone passes the guard", async (op) => {
    const res = await send(op, await tokenFor("acme", op.scopes[0]), "?not_a_parameter=1");
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.errors.map((e: { field: string }) => e.field)).toContain("not_a_parameter");
  });

  it.each(operations)("$method $path: a parameter without a name is refused too", async (op) => {
    const res = await send(op, await tokenFor("acme", op.scopes[0]), "?=1");
    expect(res.status).toBe(400);
    expect((await json(res)).errors).toEqual([{ field: "(unnamed)", message: "a parameter has no name" }]);
  });
});

describe("parameters read as the document describes them", () => {
  const anomalies = async (qs: string) => {
    const res = await app.request(`/v1/audit/anomalies?from=now-1d&to=now&group_by=path&${qs}`, {
      headers: { Authorization: `Bearer ${await tokenFor("acme", "audit:read")}` },
    });
    return { status: res.status, body: await json(res) };
  };

  it("a number parameter takes any JSON number literal within its bounds", async () => {
    // Valid: validation passes and the (dead) store is asked: 503, not 400.
    for (const threshold of ["3", "2.5", "1e1", "0.5E+1"])
      expect((await anomalies(`threshold=${encodeURIComponent(threshold)}`)).status, threshold).toBe(503);
    for (const threshold of ["0", "1e3", "-1", "03", "3.", ".5", "abc"]) {
      const r = await anomalies(`threshold=${encodeURIComponent(threshold)}`);
      expect(r.status, threshold).toBe(400);
      expect(r.body.errors[0].field).toBe("threshold");
    }
  });

  it("a zero-length baseline is refused, as its pattern says", async () => {
    const r = await anomalies("baseline=P0W");
    expect(r.status).toBe(400);
    expect(r.body.errors[0].field).toBe("baseline");
    const pattern = new RegExp(
      doc.paths["/v1/audit/anomalies"].get.parameters.find((p: { name: string }) => p.name === "baseline")
        .schema.pattern,
    );
    expect(pattern.test("P0W")).toBe(false);
    expect(pattern.test("P4W")).toBe(true);
  });
});

describe("the document's source_ip forms agree with the service", () => {
  it("every value one of its patterns or formats takes is taken, and none it refuses", () => {
    const schema = doc.paths["/v1/audit/logs"].get.parameters.find(
      (p: { name: string }) => p.name === "source_ip",
    ).schema as { anyOf: { format?: string; pattern?: string }[] };
    const cidr = schema.anyOf.filter((b) => b.pattern).map((b) => new RegExp(b.pattern as string));
    const documented = (v: string) => isIP(v) !== 0 || cidr.some((r) => r.test(v));
    const values = [
      "10.0.0.0/8",
      "203.0.113.7",
      "203.0.113.7/32",
      "2001:db8::/32",
      "::/0",
      "::1/128",
      "fe80::1/64",
      "1:2:3:4:5:6:7:8/128",
      "2001:db8::7",
      ":/120",
      "10.0.0.0/33",
      "2001:db8::/129",
      "1.2.3/8",
      "::g/8",
      "2001:db8:::/32",
      "1:2:3:4:5:6:7:8:9/64",
      "/8",
      "",
    ];
    for (const v of values) expect(documented(v), v).toBe(parseSourceIp(v).ok);
  });
});
