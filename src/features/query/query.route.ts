/**
 * @module features/query
 * GET /v1/audit/logs (audit:read): events matching the filters, newest first, with signed cursors.
 * `eventsPage` is shared with the trails, which fix a path or an identity.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import type { Context, MiddlewareHandler } from "hono";
import type { AuditEvent } from "../../events/event.schema.ts";
import type { Verify } from "../../http/auth.ts";
import type { Cursors } from "../../http/cursor.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { ProblemError } from "../../http/problem.ts";
import {
  type ExtraParam,
  FILTER_PARAMS,
  type FilterParam,
  type Filters,
  parseQuery,
} from "./query.params.ts";

import type { EventPosition } from "./query.query.ts";
import { EventsPageSchema, filterParams, pageParams } from "./query.schema.ts";
import { findEvents } from "./query.service.ts";

export interface QueryDeps {
  client: Client;
  verify: Verify;
  /** audit:read plus the tenant's retention cut-off in `c.var.tenant` (features/retention). */
  read: MiddlewareHandler<AppEnv>;
  cursors: Cursors;
  now: () => Date;
}

/** What a cursor carries besides the tenant and filter hash: the window resolved on page one. */
export interface WindowPosition<A> {
  w: { from?: string; to?: string };
  a: A;
}

export const problemResponses = {
  400: problemResponse("A parameter is invalid; `errors[].field` names it"),
  401: problemResponse("Missing or invalid token"),
  403: problemResponse("The token lacks audit:read"),
  503: problemResponse("OpenSearch is unavailable; retry after Retry-After"),
};

/**
 * Parses the query, checks the cursor, and returns the filters (with page one's time window on
 * later pages) and where to continue.
 */
export function readPage<A>(
  c: Context<AppEnv>,
  deps: Pick<QueryDeps, "cursors" | "now">,
  opts: { allowed: readonly FilterParam[]; fixed?: Filters; extra?: Record<string, ExtraParam> },
): {
  filters: Filters;
  extra: Record<string, unknown>;
  limit: number;
  after: A | undefined;
  cursorFor: (a: A) => string;
} {
  const parsed = parseQuery(new URL(c.req.url).searchParams, { ...opts, now: deps.now() });
  const bind = { tenant: c.var.principal.tenant, endpoint: c.req.routePath, filters: parsed.hash };
  let filters = parsed.filters;
  let after: A | undefined;
  if (parsed.cursor !== undefined) {
    const check = deps.cursors.decode<WindowPosition<A>>(parsed.cursor, bind);
    if (!check.ok)
      throw new ProblemError(400, `the cursor ${check.message}`, {
        errors: [{ field: "cursor", message: check.message }],
      });
    // Relative times were resolved on the first page; later pages keep that window.
    const { from: _f, to: _t, ...rest } = filters;
    filters = { ...rest, ...check.position.w };
    after = check.position.a;
  }
  const w = { ...(filters.from ? { from: filters.from } : {}), ...(filters.to ? { to: filters.to } : {}) };
  return {
    filters,
    extra: parsed.extra,
    limit: parsed.limit,
    after,
    cursorFor: (a) => deps.cursors.encode<WindowPosition<A>>(bind, { w, a }),
  };
}

/** One page of events for the request's filters. */
export async function eventsPage(
  c: Context<AppEnv>,
  deps: QueryDeps,
  opts: { allowed: readonly FilterParam[]; fixed?: Filters },
): Promise<{ entries: AuditEvent[]; next_cursor: string | null }> {
  const page = readPage<EventPosition>(c, deps, opts);
  const result = await findEvents(deps.client, c.var.tenant, page.filters, {
    limit: page.limit,
    ...(page.after ? { after: page.after } : {}),
  });
  return { entries: result.entries, next_cursor: result.next ? page.cursorFor(result.next) : null };
}

export const logsRoute = createRoute({
  method: "get",
  path: "/v1/audit/logs",
  tags: ["query"],
  summary: "Query audit events",
  description:
    "Events matching every given filter, newest first. Unknown parameters, malformed values and a reversed window are a 400 naming the parameter.",
  security: [{ bearer: [] }],
  request: { query: z.object({ ...filterParams, ...pageParams }) },
  responses: {
    200: { description: "A page of events", content: { "application/json": { schema: EventsPageSchema } } },
    ...problemResponses,
  },
});

export function registerQuery(app: OpenAPIHono<AppEnv>, deps: QueryDeps): void {
  app.openAPIRegistry.registerPath(logsRoute);
  app.get(logsRoute.path, deps.read, async (c) =>
    c.json(await eventsPage(c, deps, { allowed: FILTER_PARAMS }), 200),
  );
}
