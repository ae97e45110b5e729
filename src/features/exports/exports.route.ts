/**
 * @module features/exports
 * POST/GET /v1/audit/exports, GET/DELETE /v1/audit/exports/{id} (audit:export). Thin handlers:
 * the body is checked by its schema (inline credentials are refused by name first); jobs run in
 * the worker.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import { inlineCredentials } from "../../destinations/credentials.ts";
import { invalidField } from "../../errors.ts";
import { text } from "../../filters/filters.ts";
import type { Gate } from "../../http/admission.ts";
import type { Cursors } from "../../http/cursor.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { exactJson, secured } from "../../http/route.ts";
import { toView } from "./exports.jobs.ts";
import {
  CreatedExportSchema,
  createExportSchema,
  ExportListSchema,
  ExportSchema,
  type ExportStatus,
  STATUSES,
} from "./exports.schema.ts";
import { cancelExport, createExport, getExport, listExports } from "./exports.service.ts";

export interface ExportsDeps {
  client: Client;
  gate: Gate;
  cursors: Cursors;
  now: () => Date;
  endpointAllowlist: readonly string[];
}

const idParam = z.object({ id: z.string().openapi({ example: "exp_01JDQ3Z8K4W6Y2N9R5T7V1X3B8" }) });
const notFound = { 404: problemResponse("No such export for this tenant") };

export function registerExports(app: OpenAPIHono<AppEnv>, deps: ExportsDeps): void {
  const create = secured(
    deps.gate,
    "audit:export",
    {
      method: "post",
      path: "/v1/audit/exports",
      operationId: "createExport",
      tags: ["exports"],
      summary: "Start an export",
      description:
        "Creates an export job for the token's tenant. The job takes a point-in-time snapshot when it starts and writes exactly the events that matched then. " +
        "Credentials are named by `credentials_secret` and resolved when the job runs (a missing secret fails the job with `secret_not_found`); " +
        "inline credentials are a 400. A custom endpoint must be in EXPORT_ENDPOINT_ALLOWLIST.",
      request: {
        body: { required: true, content: { "application/json": { schema: createExportSchema(deps.now) } } },
      },
      responses: {
        202: {
          description: "Accepted",
          headers: {
            Location: {
              required: true,
              description: "The export's URL, /v1/audit/exports/{export_id}",
              schema: { type: "string" },
            },
          },
          content: { "application/json": { schema: CreatedExportSchema } },
          links: {
            GetExport: { operationId: "getExport", parameters: { id: "$response.body#/export_id" } },
            CancelExport: { operationId: "cancelExport", parameters: { id: "$response.body#/export_id" } },
          },
        },
        415: problemResponse("Not application/json"),
      },
    },
    { cost: () => 4, middleware: [exactJson(inlineCredentials)] },
  );
  app.openapi(create, async (c) => {
    const job = await createExport(deps.client, c.var.principal, c.req.valid("json"), {
      now: deps.now(),
      allowlist: deps.endpointAllowlist,
    });
    c.header("Location", `/v1/audit/exports/${job.export_id}`);
    return c.json({ export_id: job.export_id, status: "pending" as const, created_at: job.created_at }, 202);
  });

  const list = secured(deps.gate, "audit:export", {
    method: "get",
    path: "/v1/audit/exports",
    operationId: "listExports",
    tags: ["exports"],
    summary: "List exports",
    description: "The tenant's exports, newest first.",
    request: {
      query: z.strictObject({
        status: text()
          .refine((s) => (STATUSES as readonly string[]).includes(s), `must be one of ${STATUSES.join(", ")}`)
          .transform((s) => s as ExportStatus)
          .optional()
          .openapi({ type: "string", enum: [...STATUSES] }),
        limit: text()
          .refine(
            (s) => /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 100,
            "must be a whole number from 1 to 100",
          )
          .transform(Number)
          .optional()
          .openapi({ type: "integer", minimum: 1, maximum: 100, description: "1–100, default 20." }),
        cursor: text()
          .refine((s) => deps.cursors.issued(s), "is not a cursor this service issued")
          .optional()
          .openapi({ type: "string", description: "The next_cursor of the previous page." }),
      }),
    },
    responses: {
      200: {
        description: "A page of exports",
        content: { "application/json": { schema: ExportListSchema } },
      },
    },
  });
  app.openapi(list, async (c) => {
    const { status, limit = 20, cursor } = c.req.valid("query");
    const tenant = c.var.principal.tenant;
    const bind = { tenant, endpoint: c.req.routePath, filters: `status:${status ?? ""}` };
    let after: [string, string] | undefined;
    if (cursor !== undefined) {
      const check = deps.cursors.decode<[string, string]>(cursor, bind);
      if (!check.ok) throw invalidField("cursor", check.message);
      after = check.position;
    }
    const page = await listExports(deps.client, tenant, {
      limit,
      ...(status ? { status } : {}),
      ...(after ? { after } : {}),
    });
    return c.json(
      {
        entries: page.entries.map(toView),
        next_cursor: page.next ? deps.cursors.encode(bind, page.next) : null,
      },
      200,
    );
  });

  const get = secured(deps.gate, "audit:export", {
    method: "get",
    path: "/v1/audit/exports/{id}",
    operationId: "getExport",
    tags: ["exports"],
    summary: "An export's status, progress and manifest",
    request: { params: idParam },
    responses: {
      200: { description: "The export", content: { "application/json": { schema: ExportSchema } } },
      ...notFound,
    },
  });
  app.openapi(get, async (c) =>
    c.json(toView(await getExport(deps.client, c.var.principal.tenant, c.req.valid("param").id)), 200),
  );

  const cancel = secured(deps.gate, "audit:export", {
    method: "delete",
    path: "/v1/audit/exports/{id}",
    operationId: "cancelExport",
    tags: ["exports"],
    summary: "Cancel a pending or running export",
    description:
      "The export becomes `cancelled` at once; a running upload stops within seconds, the parts it wrote are removed and no manifest.json is written.",
    request: { params: idParam },
    responses: {
      200: { description: "Cancelled", content: { "application/json": { schema: ExportSchema } } },
      ...notFound,
      409: problemResponse("The export has already ended"),
    },
  });
  app.openapi(cancel, async (c) =>
    c.json(
      toView(await cancelExport(deps.client, c.var.principal.tenant, c.req.valid("param").id, deps.now())),
      200,
    ),
  );
}
