/**
 * @module features/stream
 * GET /v1/audit/stream (audit:read): server-sent events of newly stored events matching the
 * `/logs` filters, in the order they were stored, with ids to resume from (`Last-Event-ID`).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { invalidField } from "../../errors.ts";
import { filterQuery, type RawFilters, resolve, text } from "../../filters/filters.ts";
import type { Gate } from "../../http/admission.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { secured } from "../../http/route.ts";
import { parsePosition } from "../../opensearch/position.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import type { StreamHub } from "./stream.hub.ts";
import { STREAM_FORMATS, type StreamFormat } from "./stream.subscriber.ts";

export interface StreamDeps {
  hub: StreamHub;
  gate: Gate;
  /** The caller's tenant with its retention cut-off (resolved when the stream opens). */
  tenant: (c: Context<AppEnv>) => Promise<Tenant>;
  now: () => Date;
}

const LAST_EVENT_ID = "Last-Event-ID";

const badPosition = (message: string) => invalidField(LAST_EVENT_ID, message, `${LAST_EVENT_ID} ${message}`);

export function registerStream(app: OpenAPIHono<AppEnv>, deps: StreamDeps): void {
  const route = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/stream",
      operationId: "streamEvents",
      tags: ["query"],
      summary: "Live tail (server-sent events)",
      description: [
        "Events stored from now on that match the filters (the same parameters as `/v1/audit/logs`, without `limit` and `cursor`), in the order the audit store stored them — late events with an old `timestamp` included. Each event is a message whose `data` is the event as `/logs` returns it and whose `id` is its position.",
        "Send the last `id` back as the `Last-Event-ID` header (EventSource does this when it reconnects) or the `last_event_id` parameter to continue with no gap and no duplicate. Heartbeat comments come every 15 s, some with an `id` line only (the position moved on without a matching event; keep it as the last id).",
        "The stream ends with an `end` event (`data: {reason, detail}`): `shutdown`, `slow_client` (the client's buffer on the server filled up; what it did not receive was not skipped — resume from its last id), `token_expired` (at the token's `exp`) or `unavailable`. Streams per tenant and per replica are limited (429 with Retry-After).",
      ].join("\n\n"),
      request: {
        query: filterQuery({
          now: deps.now,
          extra: {
            format: text()
              .refine(
                (f) => (STREAM_FORMATS as readonly string[]).includes(f),
                `must be one of ${STREAM_FORMATS.join(", ")}`,
              )
              .transform((f) => f as StreamFormat)
              .optional()
              .openapi({
                type: "string",
                enum: [...STREAM_FORMATS],
                description:
                  "`json` (default): each message's data is the event as /logs returns it. `ocsf`: the event as OCSF 1.8 (the mapping delivery and exports use).",
              }),
            last_event_id: z.string().optional().openapi({
              description:
                "Where to resume, for clients that cannot send the Last-Event-ID header (the header wins): an `id` this stream sent.",
            }),
          },
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
        429: problemResponse("Too many live streams for this tenant or replica; retry after Retry-After"),
        503: problemResponse(
          "OpenSearch is unavailable or the server is shutting down; retry after Retry-After",
        ),
      },
    },
    { deadline: "stream" },
  );

  app.openapi(route, async (c) => {
    const q = c.req.valid("query") as RawFilters & { last_event_id?: string; format?: StreamFormat };
    const { filters } = resolve(q, deps.now());
    const resumeAt = c.req.header(LAST_EVENT_ID) || q.last_event_id;
    const from = resumeAt === undefined ? undefined : parsePosition(resumeAt.trim());
    if (resumeAt !== undefined && !from) throw badPosition("is not an id this stream sent");
    const sub = await deps.hub.subscribe({
      tenant: await deps.tenant(c),
      filters,
      ...(q.format ? { format: q.format } : {}),
      ...(from ? { from } : {}),
      ...(c.var.principal.expiresAt ? { until: c.var.principal.expiresAt } : {}),
    });
    return c.body(sub.body, 200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      // Reverse proxies (nginx) would otherwise hold events back.
      "X-Accel-Buffering": "no",
    }) as never;
  });
}
