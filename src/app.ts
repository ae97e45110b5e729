/**
 * @module app
 * Builds the HTTP application from its dependencies. Everything a request needs is passed in here
 * (config, OpenSearch client, logger, readiness), so tests build an app with their own.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import { requestId } from "hono/request-id";
import { type Config, DEFAULT_ORIGIN } from "./config.ts";
import { noSecrets, type SecretResolver } from "./destinations/credentials.ts";
import type { SealKey } from "./events/leaf.ts";
import { registerConsole } from "./features/console/console.route.ts";
import { registerDelivery } from "./features/delivery/delivery.route.ts";
import { registerExports } from "./features/exports/exports.route.ts";
import { registerIngest } from "./features/ingest/ingest.route.ts";
import { registerIntegrity } from "./features/integrity/integrity.route.ts";
import type { Verifier } from "./features/integrity/note.ts";
import { opsRoutes } from "./features/ops/ops.route.ts";
import { registerQuery } from "./features/query/query.route.ts";
import { registerRetention } from "./features/retention/retention.route.ts";
import type { StreamHub } from "./features/stream/stream.hub.ts";
import { registerStream } from "./features/stream/stream.route.ts";
import { registerSummary } from "./features/summary/summary.route.ts";
import { createGate, DEFAULT_DEADLINES, type DeadlineSettings } from "./http/admission.ts";
import type { Verify } from "./http/auth.ts";
import { type BudgetSettings, Budgets, DEFAULT_BUDGETS } from "./http/budgets.ts";
import { Cursors } from "./http/cursor.ts";
import type { AppEnv } from "./http/env.ts";
import { createMetrics, type Metrics } from "./http/metrics.ts";
import {
  accessLog,
  errorHandler,
  limitBody,
  limitRequestTarget,
  notFound,
  securityHeaders,
  wrongMethod,
} from "./http/middleware.ts";
import { mountOpenApi } from "./http/openapi.ts";
import { validationHook } from "./http/route.ts";
import { MAX_URL_BYTES } from "./http/server.ts";
import type { Logger } from "./logger.ts";
import type { StoreHealth } from "./opensearch/health.ts";
import { AUDIT_STREAM } from "./opensearch/names.ts";
import type { Readiness } from "./opensearch/readiness.ts";
import { readerTenant } from "./tenancy/access.ts";

export interface AppDeps {
  config: Pick<Config, "bodyLimitBytes" | "cursorKey"> & {
    exports: Pick<Config["exports"], "endpointAllowlist">;
    /** Delivery's timings (the service's defaults when omitted). */
    delivery?: Pick<Config["delivery"], "failingAfterMs" | "sendTimeoutMs">;
    /** Per-tenant budgets and request deadlines (the service's defaults when omitted). */
    budgets?: BudgetSettings;
    deadlines?: DeadlineSettings;
  };

  client: Client;
  log: Logger;
  readiness: Readiness;
  /** The store's breaker, fed by the readiness probe (main starts its background probe). */
  health: StoreHealth;
  verify: Verify;
  /** The live tail's subscribers and feed (main closes it before the server on shutdown). */
  hub: StreamHub;
  /** Shared with the export worker, which counts its jobs here (a fresh registry when omitted). */
  metrics?: Metrics;
  /**
   * The checkpoint keys the integrity API publishes (none when omitted: nothing is sealed), and the
   * origin its logs are named by (default scaivault.local/audit).
   */
  integrity?: { active: Verifier | null; retired: Verifier[]; origin?: string; seal?: SealKey };
  /** Where destinations' credentials come from (ScaiVault; none when omitted). */
  secrets?: SecretResolver;
  /** The audit events' data stream delivery follows (default audit-events; tests use their own). */
  stream?: string;
  /** Local mode only: mints dev tokens for the console's sign-in page. */
  devToken?: (claims: { sub: string; tenant: string; scope: string }) => Promise<string>;
  /** The clock (tests pass their own). */
  now?: () => Date;
  version?: string;
}

export function createApp(deps: AppDeps) {
  // Validation failures become a 400 problem naming every offending field (http/route).
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const metrics = deps.metrics ?? createMetrics();

  app.use(requestId());
  app.use(accessLog(deps.log));
  app.use(securityHeaders());
  app.use(metrics.middleware);
  app.use(limitRequestTarget(MAX_URL_BYTES));
  app.use(wrongMethod(app));
  app.use(limitBody(deps.config.bodyLimitBytes));
  app.onError(errorHandler(deps.log));
  app.notFound(notFound);

  app.route("/", opsRoutes({ ...deps, metrics: metrics.registry }));
  const now = deps.now ?? (() => new Date());
  // Every route declares its scope and its load; this is how they are checked.
  const gate = createGate({
    verify: deps.verify,
    budgets: new Budgets(deps.config.budgets ?? DEFAULT_BUDGETS),
    deadlines: deps.config.deadlines ?? DEFAULT_DEADLINES,
    health: deps.health,
    limited: metrics.limited,
  });
  const reads = {
    client: deps.client,
    gate,
    tenant: readerTenant({ client: deps.client, now }),
    cursors: new Cursors(deps.config.cursorKey),
    now,
  };
  registerIngest(app, {
    client: deps.client,
    log: deps.log,
    gate,
    now,
    ingested: metrics.ingested,
    ...(deps.integrity?.seal ? { seal: deps.integrity.seal } : {}),
    redactions: metrics.redactions,
  });
  registerQuery(app, reads);
  registerSummary(app, reads);
  registerStream(app, { hub: deps.hub, gate, tenant: reads.tenant, now });
  registerRetention(app, { client: deps.client, gate, readiness: deps.readiness, now });
  registerExports(app, { ...reads, endpointAllowlist: deps.config.exports.endpointAllowlist });
  registerDelivery(app, {
    client: deps.client,
    gate,
    store: { client: deps.client, stream: deps.stream ?? AUDIT_STREAM },
    log: deps.log,
    secrets: deps.secrets ?? noSecrets,
    allowlist: deps.config.exports.endpointAllowlist,
    settings: deps.config.delivery ?? { failingAfterMs: 120_000, sendTimeoutMs: 10_000 },
    now,
  });
  registerIntegrity(app, {
    client: deps.client,
    gate,
    keys: { active: deps.integrity?.active ?? null, retired: deps.integrity?.retired ?? [] },
    origin: deps.integrity?.origin ?? DEFAULT_ORIGIN,
    log: deps.log,
    now,
  });

  // The console reaches data only through the routes above, with the signed-in user's token.
  registerConsole(app, {
    fetch: (request) => app.fetch(request),
    verify: deps.verify,
    key: deps.config.cursorKey,
    ...(deps.devToken ? { devToken: deps.devToken } : {}),
  });

  mountOpenApi(app, deps.version ?? "0.1.0");
  return app;
}
