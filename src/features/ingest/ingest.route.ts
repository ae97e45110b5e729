/**
 * @module features/ingest
 * POST /v1/audit/events (audit:write): JSON or NDJSON, validated per event, written idempotently.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { monotonicFactory } from "ulid";
import type { NormalizedEvent } from "../../events/event.mapping.ts";
import { bodyCost, type Gate } from "../../http/admission.ts";
import type { AppEnv } from "../../http/env.ts";
import type { Metrics } from "../../http/metrics.ts";
import { problemResponse } from "../../http/openapi.ts";
import { ProblemError } from "../../http/problem.ts";
import { secured } from "../../http/route.ts";
import { type BodyFormat, parseBatch, rawEvents } from "./ingest.parse.ts";
import { IngestRequestSchema, type IngestResponse, IngestResponseSchema } from "./ingest.schema.ts";
import { type IngestDeps, ingestEvents } from "./ingest.service.ts";

function bodyFormat(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type === "application/json") return "json";
  if (type === "application/x-ndjson" || type === "application/ndjson") return "ndjson";
  throw new ProblemError(
    415,
    'send application/json ({"events": [...]}) or application/x-ndjson (one event per line)',
  );
}

export function registerIngest(
  app: OpenAPIHono<AppEnv>,
  deps: IngestDeps & { gate: Gate; ingested: Metrics["ingested"]; redactions: Metrics["redactions"] },
): void {
  const newId = monotonicFactory();
  // The documented exception to "the schema is the validator": events are validated one by one
  // (ingest.parse), so one bad event does not reject the batch, and NDJSON is parsed line by line.
  // The body's schema is referenced, not attached, so no whole-body validator runs first.
  app.openAPIRegistry.register("IngestRequest", IngestRequestSchema);
  const route = secured(
    deps.gate,
    "audit:write",
    {
      method: "post",
      path: "/v1/audit/events",
      operationId: "ingestEvents",
      tags: ["ingest"],
      summary: "Record audit events",
      description:
        "Writes 1–10,000 events (10 MiB at most) for the token's tenant. `id` is the idempotency key: the first write of an id wins, " +
        "later copies count as duplicates. 200 means every accepted event is durably stored and visible to queries within 2 s. " +
        "503 (or 429) with Retry-After means nothing was acknowledged: retry the same batch.",
      request: {
        body: {
          required: true,
          content: {
            "application/json": { schema: { $ref: "#/components/schemas/IngestRequest" } },
            "application/x-ndjson": {
              schema: { type: "string", description: "One IngestEvent JSON object per line." },
            },
          },
        },
      },
      responses: {
        200: { description: "Written", content: { "application/json": { schema: IngestResponseSchema } } },
        400: problemResponse("The body or a tenant field is invalid"),
        413: problemResponse("More than 10,000 events or 10 MiB"),
        415: problemResponse("Not JSON or NDJSON"),
        429: problemResponse("OpenSearch is overloaded; nothing acknowledged"),
        503: problemResponse("OpenSearch is unavailable; nothing acknowledged"),
      },
    },
    { cost: bodyCost, deadline: "ingest" },
  );
  app.openapi(route, async (c) => {
    const format = bodyFormat(c.req.header("Content-Type"));
    const batch = await parseBatch(rawEvents(await c.req.text(), format), () => newId());

    // The first copy of an id within the batch wins; later ones are duplicates.
    const seen = new Set<string>();
    const unique: NormalizedEvent[] = [];
    const slot: (number | "duplicate" | undefined)[] = batch.items.map((item) => {
      if (!item.ok) return undefined;
      if (seen.has(item.event.id)) return "duplicate";
      seen.add(item.event.id);
      return unique.push(item.event) - 1;
    });

    const { outcomes } = await ingestEvents(deps, c.var.principal.tenant, unique);
    const response: IngestResponse = { accepted: 0, duplicates: 0, rejected: [], ids: [] };
    for (const [index, item] of batch.items.entries()) {
      const s = slot[index];
      if (!item.ok) {
        response.rejected.push({ index, errors: item.errors });
        response.ids.push(null);
        continue;
      }
      response.ids.push(item.event.id);
      if (s === "duplicate" || outcomes[s as number] === "duplicate") response.duplicates++;
      else response.accepted++;
    }
    deps.ingested.inc({ outcome: "accepted" }, response.accepted);
    deps.ingested.inc({ outcome: "duplicate" }, response.duplicates);
    deps.ingested.inc({ outcome: "rejected" }, response.rejected.length);
    if (batch.redactions.size > 0) {
      let total = 0;
      for (const [rule, n] of batch.redactions) {
        deps.redactions.inc({ rule }, n);
        total += n;
      }
      deps.ingested.inc({ outcome: "redacted" }, total);
      deps.log.info({ redacted: Object.fromEntries(batch.redactions) }, "redacted secret values at ingest");
    }
    return c.json(response, 200) as never;
  });
}
