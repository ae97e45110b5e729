/**
 * @module features/retention/access
 * The gate of every event read: verifies the token has `audit:read`, then resolves the tenant's
 * retention cut-off into `c.var.tenant`, which the read handlers pass to the query builders
 * (and `scoped()` applies).
 */
import type { Client } from "@opensearch-project/opensearch";
import type { MiddlewareHandler } from "hono";
import { requireScope, type Verify } from "../../http/auth.ts";
import type { AppEnv } from "../../http/env.ts";
import { tenantScope } from "./retention.service.ts";

export function requireRead(deps: {
  verify: Verify;
  client: Client;
  now: () => Date;
}): MiddlewareHandler<AppEnv> {
  const auth = requireScope(deps.verify, "audit:read");
  return (c, next) =>
    auth(c, async () => {
      c.set("tenant", await tenantScope(deps.client, c.var.principal.tenant, deps.now()));
      await next();
    });
}
