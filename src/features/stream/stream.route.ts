/**
 * @module features/stream
 * GET /v1/audit/stream (audit:read): server-sent events of newly stored events matching the
 * `/logs` filters, in the order they were stored, with ids to resume from (`Last-Event-ID`).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { ProblemError } from "../../http/problem.ts";
import { FILTER_PARAMS, parseQuery } from "../query/query.params.ts";
import { filterParams } from "../query/query.schema.ts";
import type { StreamHub } from "./stream.hub.ts";
import { parsePosition } from "./stream.position.ts";

export interface StreamDeps {
  hub: StreamHub;
  /** audit:read plus the tenant's retention cut-off in `c.var.tenant` (features/retention). */
  read: MiddlewareHandler<AppEnv>;
  now: () => Date;
}

const LAST_EVENT_ID = "Last-Event-ID";

export const streamRoute = createRoute({
  method: "get",
  path: "/v1/audit/stream",
  tags: ["query"],
  summary: "Live tail (server-sent events)",
  description: [
    "Events stored from now on that match the filters (the same parameters as `/v1/audit/logs`, without `limit` and `cursor`), in the order the audit store stored them — late events with an old `timestamp` included. Each event is a message whose `data` is the event as `/logs` returns it and whose `id` is its position.",
    "Send the last `id` back as the `Last-Event-ID` header (EventSource does this when it reconnects) or the `last_event_id` parameter to continue with no gap and no duplicate. Heartbeat comments come every 15 s, some with an `id` line only (the position moved on without a matching event; keep it as the last id).",
    "The stream ends with an `end` event (`data: {reason, detail}`): `shutdown`, `slow_client` (the client's buffer on the server filled up; what it did not receive was not skipped — resume from its last id), `token_expired` (at the token's `exp`) or `unavailable`. Streams per tenant and per replica are limited (429 with Retry-After).",
  ].join("\n\n"),
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      ...filterParams,
      last_event_id: z.string().optional().openapi({
        description:
          "Where to resume, for clients that cannot send the Last-Event-ID header (the header wins).",
        example: "3-41523",
      }),
    }),
    headers: z.object({
      "last-event-id": z
        .string()
        .optional()
        .openapi({ description: "The `id` of the last message received." }),
    }),
  },
  responses: {
    200: {
      description: "An event stream",
      content: {
        "text/event-stream": {
          schema: z.string().openapi({
            example:
              'retry: 2000\n\nid: 3-41524\ndata: {"id":"01JD…","timestamp":"2026-11-26T14:30:05.123456Z","action":"read",…}\n\n: heartbeat\n\n',
          }),
        },
      },
    },
    400: problemResponse("A filter or Last-Event-ID is invalid; `errors[].field` names it"),
    401: problemResponse("Missing or invalid token"),
    403: problemResponse("The token lacks audit:read"),
    429: problemResponse("Too many live streams for this tenant or replica; retry after Retry-After"),
    503: problemResponse("OpenSearch is unavailable or the server is shutting down; retry after Retry-After"),
  },
});

const badPosition = (message: string) =>
  new ProblemError(400, `${LAST_EVENT_ID} ${message}`, { errors: [{ field: LAST_EVENT_ID, message }] });

export function registerStream(app: OpenAPIHono<AppEnv>, deps: StreamDeps): void {
  app.openAPIRegistry.registerPath(streamRoute);
  app.get(streamRoute.path, deps.read, async (c) => {
    const parsed = parseQuery(new URL(c.req.url).searchParams, {
      allowed: FILTER_PARAMS,
      now: deps.now(),
      paging: false,
      extra: { last_event_id: (raw) => ({ ok: true, value: raw }) },
    });
    const resumeAt = c.req.header(LAST_EVENT_ID) || (parsed.extra.last_event_id as string | undefined);
    const from = resumeAt === undefined ? undefined : parsePosition(resumeAt.trim());
    if (resumeAt !== undefined && !from) throw badPosition("is not an id this stream sent");
    const sub = await deps.hub.subscribe({
      tenant: c.var.tenant,
      filters: parsed.filters,
      ...(from ? { from } : {}),
      ...(c.var.principal.expiresAt ? { until: c.var.principal.expiresAt } : {}),
    });
    return c.body(sub.body, 200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      // Reverse proxies (nginx) would otherwise hold events back.
      "X-Accel-Buffering": "no",
    });
  });
}
