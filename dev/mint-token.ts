/**
 * `npm run token -- --tenant acme --scope "audit:read audit:write" [--sub user:dev@example.com] [--ttl 3600]`
 * Prints an HS256 token signed with AUDIT_JWT_SECRET (or, in local mode, the generated dev secret).
 * Development only: production tokens come from ScaiVault's identity service.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../src/config.ts";
import { SCOPES } from "../src/http/auth.ts";
import { devSecret, loadDevConfig } from "./config.ts";
import { mintToken } from "./token.ts";

const { values } = parseArgs({
  options: {
    tenant: { type: "string" },
    scope: { type: "string", default: SCOPES.join(" ") },
    sub: { type: "string", default: "user:dev@localhost" },
    ttl: { type: "string", default: "3600" },
  },
});

try {
  const dev = loadDevConfig();
  if (!values.tenant) throw new Error("--tenant is required, e.g. --tenant acme");
  // The configured secret, or (local mode) the dev secret `npm start` signs with.
  const secret =
    process.env.AUDIT_JWT_SECRET || (dev.devSecretFile ? devSecret(dev.devSecretFile) : undefined);
  if (!secret)
    throw new Error("no AUDIT_JWT_SECRET: tokens for a JWKS deployment come from its identity provider");
  const unknown = values.scope.split(/\s+/).filter((s) => s && !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new Error(`unknown scope(s) ${unknown.join(", ")}; known: ${SCOPES.join(", ")}`);
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error("--ttl must be a positive number of seconds");
  console.log(await mintToken(secret, { sub: values.sub, tenant: values.tenant, scope: values.scope }, ttl));
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `token: ${(err as Error).message}`);
  process.exit(2);
}
