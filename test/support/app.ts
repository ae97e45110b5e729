import { Writable } from "node:stream";
import { mintToken } from "../../dev/token.ts";
import { createApp } from "../../src/app.ts";
import type { SecretResolver } from "../../src/destinations/credentials.ts";
import type { SealKey } from "../../src/events/leaf.ts";
import type { Verifier } from "../../src/features/integrity/note.ts";
import { StreamHub, type StreamSettings } from "../../src/features/stream/stream.hub.ts";
import type { DeadlineSettings } from "../../src/http/admission.ts";
import { createVerifier } from "../../src/http/auth.ts";
import type { BudgetSettings } from "../../src/http/budgets.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { createLogger } from "../../src/logger.ts";
import { createOpenSearchClient } from "../../src/opensearch/client.ts";
import { type HealthSettings, StoreHealth } from "../../src/opensearch/health.ts";
import { Readiness } from "../../src/opensearch/readiness.ts";

/** An app wired to `url`, with its log lines captured for assertions. */
export const TEST_SECRET = "test-secret-test-secret-test-secret!";

/** The least a service configuration needs: a cluster and a token secret (for loadConfig in unit tests). */
export const SERVICE_ENV = {
  OPENSEARCH_URL: "http://127.0.0.1:9",
  AUDIT_JWT_SECRET: TEST_SECRET,
};

/** A token for `tenant` signed with the test apps' secret. */
export const tokenFor = (
  tenant: string,
  scope = "audit:read audit:write audit:export audit:admin",
  sub = "user:tester@example.com",
) => mintToken(TEST_SECRET, { sub, tenant, scope });

/** Live-tail settings for tests: quick polls and heartbeats, the service's other defaults. */
export const TEST_STREAM: StreamSettings = {
  pollIntervalMs: 100,
  heartbeatMs: 15_000,
  maxPerTenant: 50,
  maxTotal: 1000,
  clientBufferBytes: 1024 * 1024,
  pageSize: 1000,
  closeGraceMs: 2000,
};

export function testApp(
  url: string,
  opts: {
    bodyLimitBytes?: number;
    now?: () => Date;
    endpointAllowlist?: string[];
    stream?: Partial<StreamSettings>;
    /** Longest token lifetime the app accepts (default: the service's, a day). */
    tokenMaxLifetimeSec?: number;
    budgets?: BudgetSettings;
    deadlines?: DeadlineSettings;
    /** The breaker's probe settings; its background probe runs only when given. */
    health?: HealthSettings;
    /** The checkpoint keys the integrity API publishes. */
    integrity?: { active: Verifier | null; retired: Verifier[]; origin?: string; seal?: SealKey };
    /** Where destinations' credentials come from, and delivery's timings. */
    secrets?: SecretResolver;
    delivery?: { failingAfterMs: number; sendTimeoutMs: number };
    /** Local mode's console sign-in with dev tokens (signed with the test secret). */
    devTokens?: boolean;
  } = {},
) {
  const { log, lines } = capturedLogger();
  const client = createOpenSearchClient({ url });
  const readiness = new Readiness();
  const health = new StoreHealth(client, opts.health);
  if (opts.health) health.start();
  const metrics = createMetrics();
  const hub = new StreamHub({
    client,
    log,
    settings: { ...TEST_STREAM, ...opts.stream },
    metrics: metrics.stream,
  });
  const app = createApp({
    hub,
    metrics,
    config: {
      bodyLimitBytes: opts.bodyLimitBytes ?? 10 * 1024 * 1024,
      cursorKey: Buffer.from(TEST_SECRET),
      exports: { endpointAllowlist: opts.endpointAllowlist ?? [] },
      ...(opts.budgets ? { budgets: opts.budgets } : {}),
      ...(opts.deadlines ? { deadlines: opts.deadlines } : {}),
      ...(opts.delivery ? { delivery: opts.delivery } : {}),
    },
    ...(opts.secrets ? { secrets: opts.secrets } : {}),

    client,
    log,
    readiness,
    health,
    ...(opts.integrity ? { integrity: opts.integrity } : {}),
    verify: createVerifier({
      jwtSecret: TEST_SECRET,
      ...(opts.tokenMaxLifetimeSec ? { maxLifetimeSec: opts.tokenMaxLifetimeSec } : {}),
    }),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.devTokens ? { devToken: (claims) => mintToken(TEST_SECRET, claims) } : {}),
  });
  return { app, client, readiness, lines, hub, metrics, health };
}

/** A logger whose JSON lines are kept for assertions. */
export function capturedLogger(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { log: createLogger("info", sink), lines };
}

/** A loopback URL where nothing listens (port 9 is discard, never bound here). */
export const DEAD_OPENSEARCH = "http://127.0.0.1:9";

/** A response body as loosely typed JSON, for assertions. */
export const json = (res: Response): Promise<any> => res.json();

/**
 * Ingests `events` for `tenant` through the app (batches of 5,000), fails the test if any is
 * rejected, and refreshes so they are searchable at once.
 */
export async function ingestAs(
  t: ReturnType<typeof testApp>,
  tenant: string,
  events: unknown[],
): Promise<void> {
  const token = await tokenFor(tenant, "audit:write");
  for (let i = 0; i < events.length; i += 5000) {
    const res = await t.app.request("/v1/audit/events", {
      method: "POST",
      body: JSON.stringify({ events: events.slice(i, i + 5000) }),
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    });
    const body = await json(res);
    if (res.status !== 200 || body.rejected.length > 0)
      throw new Error(`ingest failed: ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
  }
  await t.client.indices.refresh({ index: "audit-events" });
}
