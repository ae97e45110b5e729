/**
 * @module tenancy/access
 * Whose data a read may see: the tenant of the verified token — never the request — with its
 * retention cut-off, resolved per request (a realtime GET), so a shorter retention hides older
 * events on every replica at once. Route handlers pass it to the query builders; `scoped()` applies it.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { Context } from "hono";
import type { AppEnv } from "../http/env.ts";
import { tenantScope } from "./retention.ts";
import type { Tenant } from "./tenant-scope.ts";

export function readerTenant(deps: {
  client: Client;
  now: () => Date;
}): (c: Context<AppEnv>) => Promise<Tenant> {
  return (c) => tenantScope(deps.client, c.var.principal.tenant, deps.now());
}
