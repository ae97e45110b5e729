/**
 * @module http/admission
 * What every secured route passes through before its handler, built once per app (the `Gate`):
 * the token and its scope (http/auth), then the tenant's budget (http/budgets: 429 with
 * Retry-After and the RateLimit headers), then the store's breaker (503 at once while OpenSearch
 * is known to be down) and the route's deadline for everything it asks OpenSearch
 * (opensearch/deadline: 504 when it passes). A route declares its load — what it costs and which
 * deadline fits it — beside its scope (http/route), so the document, the guard and the budget are
 * one declaration.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Counter } from "prom-client";
import { Unavailable } from "../errors.ts";
import { parseInstant } from "../events/time.ts";
import { DEFAULT_LIMIT } from "../filters/filters.ts";
import { within } from "../opensearch/deadline.ts";
import type { StoreHealth } from "../opensearch/health.ts";
import { requireScope, type Scope, type Verify } from "./auth.ts";
import type { Budgets, Standing } from "./budgets.ts";
import type { AppEnv } from "./env.ts";
import { sendProblem } from "./middleware.ts";
import { problem } from "./problem.ts";

/** How long a request may wait on OpenSearch, by kind; `stream`: the live tail, which has no end. */
export type DeadlineKind = "page" | "aggregation" | "ingest" | "stream";

export interface DeadlineSettings {
  pageMs: number;
  aggregationMs: number;
  ingestMs: number;
}

export const DEFAULT_DEADLINES: DeadlineSettings = {
  pageMs: 10_000,
  aggregationMs: 30_000,
  ingestMs: 15_000,
};

/** A route's load: its cost in budget units (from the raw request; default 1) and its deadline. */
export interface Load {
  cost?: (c: Context<AppEnv>) => number;
  deadline?: DeadlineKind;
}

export interface Gate {
  /** 401/403: a valid token with `scope` (the caller becomes `principal`). */
  guard(scope: Scope): MiddlewareHandler<AppEnv>;
  /** 429 before the handler; the deadline and the breaker around it. */
  admit(load: Load): MiddlewareHandler<AppEnv>;
}

export function createGate(deps: {
  verify: Verify;
  budgets: Budgets;
  deadlines: DeadlineSettings;
  health: StoreHealth;
  limited: Counter<"limit">;
}): Gate {
  const { budgets, health } = deps;
  const policy = policyHeader(budgets);
  return {
    guard: (scope) => requireScope(deps.verify, scope),
    admit: (load) => {
      const kind = load.deadline ?? "page";
      const ms = kind === "stream" ? 0 : deps.deadlines[`${kind}Ms`];
      return async (c, next) => {
        const { tenant, subject } = c.get("principal");
        const cost = Math.max(1, Math.ceil(load.cost?.(c) ?? 1));
        const decision = budgets.admit(tenant, subject, cost, kind !== "stream");
        const headers = { "RateLimit-Policy": policy, RateLimit: standingHeader(decision.standing, budgets) };
        if (!decision.admitted) {
          deps.limited.inc({ limit: decision.refusal });
          const hold = Math.min(decision.retryAfterSeconds * 1000, budgets.settings.refusalDelayMs);
          if (hold > 0) await new Promise((r) => setTimeout(r, hold));
          // Answered here, not thrown: a flood is mostly refusals, and they must stay cheap.
          return sendProblem(c, problem(429, REFUSALS[decision.refusal]), {
            ...headers,
            "Retry-After": String(decision.retryAfterSeconds),
          });
        }
        try {
          for (const [k, v] of Object.entries(headers)) c.header(k, v);
          if (kind !== "stream") {
            // The breaker is checked at the first call to the store, after validation: a bad
            // request is a 400 whatever the store's state.
            await within({ deadline: Date.now() + ms, health }, next);
            return;
          }
          // A live tail has no deadline and reads the store from its own feed: checked here.
          if (!(await health.recheck()))
            throw new Unavailable("the audit store is unavailable; retry later", health.retryAfterSeconds);
          await next();
        } finally {
          decision.release();
        }
      };
    },
  };
}

/*
 * What requests cost, read from the raw request (admission runs before validation; a request that
 * then fails validation has cost what it says). One unit is a small page.
 */

/** A page: 1, plus 1 per 100 rows it may return (`limit`). */
export const pageCost = (c: Context): number => {
  const limit = Number(c.req.query("limit") ?? DEFAULT_LIMIT);
  return 1 + Math.floor((Number.isFinite(limit) ? Math.min(Math.max(limit, 0), 10_000) : 0) / 100);
};

/** A body: 1, plus 1 per 256 KiB (a chunked body, of unknown length, as 256 KiB). */
export const bodyCost = (c: Context): number => {
  const length = Number(c.req.header("Content-Length") ?? 256 * 1024);
  return 1 + Math.floor((Number.isFinite(length) ? length : 0) / (256 * 1024));
};

/** An aggregation: 2, plus 1 per week of its window, up to 16 (no `from`: the whole history). */
export const windowCost =
  (now: () => Date) =>
  (c: Context): number => {
    const at = now();
    const raw = c.req.query("from");
    if (raw === undefined) return 16;
    const from = parseInstant(raw, at);
    const to = c.req.query("to") === undefined ? undefined : parseInstant(c.req.query("to") ?? "", at);
    if (!from.ok) return 1; // refused by validation next
    const end = to?.ok ? Date.parse(to.value) : at.getTime();
    const weeks = Math.ceil(Math.max(0, end - Date.parse(from.value)) / (7 * 86_400_000));
    return Math.min(16, 2 + weeks);
  };

const REFUSALS = {
  tenant_rate: "this tenant's request rate is exhausted; retry after Retry-After",
  subject_rate: "this caller's request rate is exhausted; retry after Retry-After",
  tenant_concurrency: "this tenant has too much in progress; retry after Retry-After",
  replica_concurrency: "the service is busy and this tenant has its share; retry after Retry-After",
} as const;

/**
 * `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): quotas in cost units, the window being
 * the time an empty bucket takes to refill; and the concurrency allowance.
 */
function policyHeader(b: Budgets): string {
  const s = b.settings;
  const w = (burst: number, rate: number) => Math.max(1, Math.ceil(burst / rate));
  return [
    `"tenant";q=${s.tenantBurst};w=${w(s.tenantBurst, s.tenantPerSecond)}`,
    `"subject";q=${s.subjectBurst};w=${w(s.subjectBurst, s.subjectPerSecond)}`,
    `"tenant-concurrency";q=${s.tenantConcurrency};qu="concurrency"`,
  ].join(", ");
}

/** `RateLimit`: what is left of each quota, and the seconds until it is whole again. */
function standingHeader(st: Standing, b: Budgets): string {
  return [
    `"tenant";r=${st.tenant.remaining};t=${st.tenant.resetSeconds}`,
    `"subject";r=${st.subject.remaining};t=${st.subject.resetSeconds}`,
    `"tenant-concurrency";r=${Math.max(0, b.settings.tenantConcurrency - st.inFlight)}`,
  ].join(", ");
}
