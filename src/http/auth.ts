/**
 * @module http/auth
 * Bearer JWT authentication (jose): HS256 with AUDIT_JWT_SECRET, or RS256/ES256 with keys from
 * AUDIT_JWKS_URL (cached; fetched again when a token names an unknown `kid`). Claims: `sub`,
 * `tenant`, `scope` (space-separated). 401 for a missing or bad token, 403 for a missing scope.
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

function unauthorized(detail: string): ProblemError {
  return new ProblemError(401, detail, {
    headers: {
      "WWW-Authenticate": `Bearer realm="scaivault-audit", error="invalid_token", error_description="${detail}"`,
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

export function createVerifier(
  auth: { jwtSecret?: string | undefined; jwksUrl?: string | undefined },
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

  return async (token) => {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized("the token is malformed");
    }
    try {
      if (alg === "HS256" && secret) {
        return principalOf(
          (await jwtVerify(token, secret, { algorithms: ["HS256"], clockTolerance })).payload,
        );
      }
      if ((alg === "RS256" || alg === "ES256") && jwks) {
        return principalOf(
          (await jwtVerify(token, jwks, { algorithms: ["RS256", "ES256"], clockTolerance })).payload,
        );
      }
      throw unauthorized(`tokens signed with ${alg ?? "no algorithm"} are not accepted`);
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
