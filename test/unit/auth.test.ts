import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { OpenAPIHono } from "@hono/zod-openapi";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createVerifier, requireScope, type Verify } from "../../src/http/auth.ts";
import type { AppEnv } from "../../src/http/env.ts";
import { errorHandler } from "../../src/http/middleware.ts";
import { createLogger } from "../../src/logger.ts";
import { json } from "../support/app.ts";

const SECRET = "0123456789abcdef0123456789abcdef";
const key = new TextEncoder().encode(SECRET);
const claims = { tenant: "acme", scope: "audit:read audit:write" };

const hs256 = (
  payload: Record<string, unknown> = claims,
  opts: { exp?: number | string; sub?: string | null; secret?: Uint8Array } = {},
) => {
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? "user:ana@acme.example");
  return jwt.setExpirationTime(opts.exp ?? "10m").sign(opts.secret ?? key);
};

/** A tiny app guarded by one scope, to test the middleware end to end. */
function guarded(verify: Verify) {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(errorHandler(createLogger("silent")));
  app.get("/r", requireScope(verify, "audit:read"), (c) => c.json(c.var.principal.tenant));
  app.get("/admin", requireScope(verify, "audit:admin"), (c) => c.json("ok"));
  return app;
}

const get = (app: ReturnType<typeof guarded>, path: string, token?: string) =>
  app.request(path, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });

describe("HS256 tokens", () => {
  const app = guarded(createVerifier({ jwtSecret: SECRET }));

  it("remembers a verified token only until it expires, and only that exact token", async () => {
    const verify = createVerifier({ jwtSecret: SECRET });
    const token = await hs256(claims, { exp: Math.floor(Date.now() / 1000) + 60 });
    expect((await verify(token)).tenant).toBe("acme");
    // One character of the signature changed: not the remembered token, and not valid.
    const forged = `${token.slice(0, -2)}${token.at(-2) === "A" ? "B" : "A"}${token.at(-1)}`;
    await expect(verify(forged)).rejects.toThrow(/signature/);
    vi.useFakeTimers({ now: Date.now() + 120_000, toFake: ["Date"] });
    try {
      await expect(verify(token)).rejects.toThrow(/expired/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("accepts a valid token and takes the tenant from it", async () => {
    const res = await get(app, "/r", await hs256());
    expect(res.status).toBe(200);
    expect(await res.json()).toBe("acme");
  });

  it("answers 401 problem+json with WWW-Authenticate for a missing token", async () => {
    const res = await get(app, "/r");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
  });

  it.each([
    ["malformed", async () => "not.a.jwt", /malformed/],
    ["expired", async () => hs256(claims, { exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/],
    [
      "signed with another key",
      async () => hs256(claims, { secret: new TextEncoder().encode("x".repeat(32)) }),
      /signature/,
    ],
    ["without sub", async () => hs256(claims, { sub: null }), /sub/],
    ["without tenant", async () => hs256({ scope: "audit:read" }), /tenant/],
    ["with a tenant that is not an id", async () => hs256({ ...claims, tenant: "a:b" }), /tenant/],
    ["without scope", async () => hs256({ tenant: "acme" }), /scope/],
    [
      "with alg none",
      async () =>
        `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "x", ...claims })).toString("base64url")}.`,
      /none/,
    ],
  ])("refuses a token %s with 401", async (_name, make, detail) => {
    const res = await get(app, "/r", await make());
    expect(res.status).toBe(401);
    expect((await json(res)).detail).toMatch(detail);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("refuses another algorithm with the same secret (HS512)", async () => {
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS512" })
      .setSubject("x")
      .setExpirationTime("5m")
      .sign(key);
    expect((await get(app, "/r", token)).status).toBe(401);
  });

  it("answers 403 when the scope is missing", async () => {
    const res = await get(app, "/admin", await hs256());
    expect(res.status).toBe(403);
    expect((await json(res)).detail).toContain("audit:admin");
    expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });
});

describe("hostile token headers and lifetimes", () => {
  const app = guarded(createVerifier({ jwtSecret: SECRET }));
  const withHeader = (header: Record<string, unknown>) =>
    `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "x", ...claims })).toString("base64url")}.c2ln`;

  it.each([
    ["CR/LF", "HS256\r\nX-Injected: 1"],
    ["a character above U+00FF", "HS\u0100256"],
    ["an emoji", "🙂"],
    ["a double quote", 'HS256", error="other'],
    ["a backslash", "HS\\256"],
    ["NUL", "HS\u0000"],
    ["a very long value", "A".repeat(10_000)],
    ["a number", 256],
    ["an object", { a: 1 }],
  ])("an alg with %s: 401 problem+json with a well-formed WWW-Authenticate", async (_name, alg) => {
    const res = await get(app, "/r", withHeader({ alg, typ: "JWT" }));
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const header = res.headers.get("www-authenticate") as string;
    // One header, printable ASCII, every quoted-string closed where it should be.
    expect(header).toMatch(
      /^Bearer realm="scaivault-audit", error="invalid_token", error_description="[\x20-\x21\x23-\x5b\x5d-\x7e]*"$/,
    );
    expect(((await json(res)).detail as string).length).toBeLessThan(200);
  });

  it("requires exp", async () => {
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("x")
      .setIssuedAt()
      .sign(key);
    const res = await get(app, "/r", token);
    expect(res.status).toBe(401);
    expect((await json(res)).detail).toMatch(/exp/);
  });

  it("refuses a token that lives longer than allowed (default a day), with or without iat", async () => {
    expect((await get(app, "/r", await hs256(claims, { exp: "23h" }))).status).toBe(200);
    expect((await get(app, "/r", await hs256(claims, { exp: "25h" }))).status).toBe(401);
    const noIat = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("x")
      .setExpirationTime("25h")
      .sign(key);
    expect((await get(app, "/r", noIat)).status).toBe(401);
    const longer = guarded(createVerifier({ jwtSecret: SECRET, maxLifetimeSec: 7 * 86_400 }));
    expect((await get(longer, "/r", await hs256(claims, { exp: "6d" }))).status).toBe(200);
  });

  it("refuses an iat in the future beyond the clock tolerance", async () => {
    const now = Math.floor(Date.now() / 1000);
    const at = (iat: number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("x")
        .setIssuedAt(iat)
        .setExpirationTime(now + 600)
        .sign(key);
    expect((await get(app, "/r", await at(now + 10))).status).toBe(200); // within 30 s
    const res = await get(app, "/r", await at(now + 300));
    expect(res.status).toBe(401);
    expect((await json(res)).detail).toMatch(/iat/);
  });
});

describe("JWKS tokens (RS256, ES256)", () => {
  let server: Server;
  let keys: { kid: string; jwk: Record<string, unknown> }[] = [];
  let fetches = 0;
  let url = "";

  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: keys.map((k) => ({ ...k.jwk, kid: k.kid, use: "sig" })) }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const pair = async (alg: "RS256" | "ES256", kid: string) => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return { privateKey, kid, alg, jwk: { ...(await exportJWK(publicKey)), alg } };
  };
  const sign = (
    p: { privateKey: Parameters<SignJWT["sign"]>[0]; kid: string; alg: string },
    payload: Record<string, unknown> = claims,
  ) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: p.alg, kid: p.kid })
      .setSubject("service_account:ci")
      .setExpirationTime("5m")
      .sign(p.privateKey);

  it("accepts RS256 and ES256 tokens signed by a published key", async () => {
    const rs = await pair("RS256", "rs-1");
    const es = await pair("ES256", "es-1");
    keys = [rs, es];
    const app = guarded(createVerifier({ jwksUrl: url }, { jwksCooldownMs: 0 }));
    expect((await get(app, "/r", await sign(rs))).status).toBe(200);
    expect((await get(app, "/r", await sign(es))).status).toBe(200);
  });

  it("caches the key set, and fetches it again when a token names an unknown kid (rotation)", async () => {
    const old = await pair("RS256", "old");
    keys = [old];
    const app = guarded(createVerifier({ jwksUrl: url }, { jwksCooldownMs: 0 }));
    fetches = 0;
    expect((await get(app, "/r", await sign(old))).status).toBe(200);
    expect((await get(app, "/r", await sign(old))).status).toBe(200);
    expect(fetches).toBe(1);

    const next = await pair("RS256", "new");
    keys = [old, next];
    expect((await get(app, "/r", await sign(next))).status).toBe(200);
    expect(fetches).toBe(2);

    const stranger = await pair("RS256", "never-published");
    const res = await get(app, "/r", await sign(stranger));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/signing key is unknown/);
  });

  it("refuses an HS256 token when only JWKS is configured", async () => {
    const app = guarded(createVerifier({ jwksUrl: url }));
    expect((await get(app, "/r", await hs256())).status).toBe(401);
  });

  it("answers 503, not 401, when the key set cannot be fetched", async () => {
    const rs = await pair("RS256", "rs-x");
    const app = guarded(createVerifier({ jwksUrl: "http://127.0.0.1:9/jwks.json" }));
    const res = await get(app, "/r", await sign(rs));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
  });
});
