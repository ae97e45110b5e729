/**
 * Every route's scope, checked for every route from the document itself: a route added tomorrow
 * is covered without touching this file. Each /v1 operation must declare exactly one scope, and
 * the running app must enforce exactly that one — 401 without a token, 403 with every other
 * scope, and with the scope the request gets past the guard (an unknown parameter is then a 400
 * naming it, which needs no OpenSearch).
 */
import { describe, expect, it } from "vitest";
import { SCOPES } from "../../src/http/auth.ts";
import { DEAD_OPENSEARCH, json, testApp, tokenFor } from "../support/app.ts";

const { app } = testApp(DEAD_OPENSEARCH);
const doc = await json(await app.request("/openapi.json"));

type Operation = { method: string; path: string; scopes: string[]; url: string };

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

  it.each(operations)("$method $path declares one known scope", (op) => {
    expect(op.scopes).toHaveLength(1);
    expect(SCOPES).toContain(op.scopes[0]);
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
});
