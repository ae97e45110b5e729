/**
 * @module http/auth
 * Bearer JWT authentication (jose): HS256 with AUDIT_JWT_SECRET, or RS256/ES256 with keys from
 * AUDIT_JWKS_URL (cached; fetched again when a token names an unknown `kid`). Claims: `sub`,
 * `tenant`, `scope` (space-separated) and `exp`, at most `maxLifetimeSec` after `iat` (or after now,
 * without `iat`); an `iat` in the future beyond the clock tolerance is refused. 401 for a missing
 * or bad token, 403 for a missing scope. Nothing the token says is copied into a header unescaped.
 */
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import type { AppEnv, Principal } from "./env.ts";
import { ProblemError } from "./problem.ts";

export const SCOPES = ["audit:read", "audit:write", "audit:export", "audit:admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** Tenant ids are used in document ids and index filters: keep them plain. */
export const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export type Verify = (token: string) => Promise<Principal>;

/** Verified tokens remembered (the oldest forgotten first). */
const VERIFIED_TOKENS = 10_000;

/** Longest token lifetime accepted by default (`exp` − `iat`): a day. */
const DEFAULT_MAX_LIFETIME_SEC = 86_400;

/**
 * Text for an RFC 7235 quoted-string: printable ASCII only, without `"` and `\`. Anything else a
 * token carried (CR/LF, characters beyond U+00FF) would make the header invalid or split it.
 */
const headerSafe = (text: string) => text.replace(/[^\x20-\x7e]|["\\]/g, "?");

/** An attacker-chosen value as it may appear in a message: bounded and printable. */
const shown = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

function unauthorized(detail: string): ProblemError {
  return new ProblemError(401, detail, {
    headers: {
      "WWW-Authenticate": `Bearer realm="scaivault-audit", error="invalid_token", error_description="${headerSafe(detail)}"`,
    },
  });
}

function principalOf(payload: JWTPayload): Principal {
  const { sub, tenant, scope } = payload as JWTPayload & { tenant?: unknown; scope?: unknown };
  if (typeof sub !== "string" || sub === "") throw unauthorized("the token has no sub claim");
  if (typeof tenant !== "string" || !TENANT_ID.test(tenant))
    throw unauthorized("the token has no valid tenant claim");
  if (typeof scope !== "string") throw unauthorized("the token has no scope claim");
  return {
    subject: sub,
    tenant,
    scopes: new Set(scope.split(" ").filter(Boolean)),
    ...(typeof payload.exp === "number" ? { expiresAt: payload.exp * 1000 } : {}),
  };
}

/** `exp` is required and bounded; `iat`, when present, is not in the future. */
function checkLifetime(
  payload: JWTPayload,
  nowSec: number,
  maxLifetimeSec: number,
  toleranceSec: number,
): void {
  const { exp, iat } = payload;
  if (typeof exp !== "number") throw unauthorized("the token has no exp claim: tokens must expire");
  if (iat !== undefined && (typeof iat !== "number" || iat > nowSec + toleranceSec))
    throw unauthorized("the token's iat claim lies in the future");
  const lifetime = exp - (typeof iat === "number" ? iat : nowSec);
  if (lifetime > maxLifetimeSec)
    throw unauthorized(`the token lives longer than the ${maxLifetimeSec} s this service accepts`);
}

export function createVerifier(
  auth: { jwtSecret?: string | undefined; jwksUrl?: string | undefined; maxLifetimeSec?: number },
  opts: { jwksCooldownMs?: number; clockToleranceSec?: number } = {},
): Verify {
  const secret = auth.jwtSecret ? new TextEncoder().encode(auth.jwtSecret) : undefined;
  const jwks = auth.jwksUrl
    ? createRemoteJWKSet(new URL(auth.jwksUrl), {
        cooldownDuration: opts.jwksCooldownMs ?? 30_000,
        cacheMaxAge: 600_000,
      })
    : undefined;
  const clockTolerance = opts.clockToleranceSec ?? 30;
  const maxLifetime = auth.maxLifetimeSec ?? DEFAULT_MAX_LIFETIME_SEC;
  const accept = (payload: JWTPayload): Principal => {
    checkLifetime(payload, Math.floor(Date.now() / 1000), maxLifetime, clockTolerance);
    return principalOf(payload);
  };

  const verify: Verify = async (token) => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized("the token is malformed");
    }
    try {
      if (alg === "HS256" && secret) {
        return accept((await jwtVerify(token, secret, { algorithms: ["HS256"], clockTolerance })).payload);
      }
      if ((alg === "RS256" || alg === "ES256") && jwks) {
        return accept(
          (await jwtVerify(token, jwks, { algorithms: ["RS256", "ES256"], clockTolerance })).payload,
        );
      }
      throw unauthorized(
        `tokens signed with ${typeof alg === "string" ? shown(alg) : "no algorithm"} are not accepted`,
      );
    } catch (err) {
      if (err instanceof ProblemError) throw err;
      if (err instanceof errors.JWTExpired) throw unauthorized("the token has expired");
      if (err instanceof errors.JWTClaimValidationFailed)
        throw unauthorized(`the token's ${err.claim} claim is not valid`);
      if (err instanceof errors.JWKSNoMatchingKey) throw unauthorized("the token's signing key is unknown");
      if (
        err instanceof errors.JOSEError &&
        !(err instanceof errors.JWKSTimeout) &&
        !(err instanceof errors.JWKSInvalid)
      ) {
        throw unauthorized("the token's signature is not valid");
      }
      // The key set could not be fetched or read: not the caller's fault.
      throw new ProblemError(503, "the key set for verifying tokens is unavailable; retry later", {
        headers: { "Retry-After": "5" },
      });
    }
  };

  // A client sends the same token with every request; its signature is checked once, and the
  // principal kept until the token expires. Keyed by the whole token (signature included), bounded.
  const verified = new Map<string, Principal>();
  return async (token) => {
    const known = verified.get(token);
    if (known && (known.expiresAt ?? 0) > Date.now()) return known;
    verified.delete(token);
    const principal = await verify(token);
    if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value as string);
    verified.set(token, principal);
    return principal;
  };
}

/** Verifies the bearer token and requires `scope`; puts the caller on the context as `principal`. */
export function requireScope(verify: Verify, scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("Authorization");
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m?.[1]) {
      throw new ProblemError(401, "a bearer token is required", {
        headers: { "WWW-Authenticate": 'Bearer realm="scaivault-audit"' },
      });
    }
    const principal = await verify(m[1]);
    if (!principal.scopes.has(scope)) {
      throw new ProblemError(403, `the token lacks the ${scope} scope`, {
        headers: {
          "WWW-Authenticate": `Bearer realm="scaivault-audit", error="insufficient_scope", scope="${scope}"`,
        },
      });
    }
    c.set("principal", principal);
    await next();
  };
}
