/**
 * @module features/exports
 * POST/GET /v1/audit/exports, GET/DELETE /v1/audit/exports/{id} (audit:export). Thin handlers:
 * the body is checked here (inline credentials first, then its shape); jobs run in the worker.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import { requireScope, type Verify } from "../../http/auth.ts";
import { readJson, validBody } from "../../http/body.ts";
import type { Cursors } from "../../http/cursor.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { type FieldError, ProblemError } from "../../http/problem.ts";
import { toView } from "./exports.jobs.ts";
import {
  CreatedExportSchema,
  CreateExportSchema,
  ExportListSchema,
  ExportSchema,
  INLINE_CREDENTIAL_KEYS,
  STATUSES,
} from "./exports.schema.ts";
import { cancelExport, createExport, getExport, listExports } from "./exports.service.ts";

export interface ExportsDeps {
  client: Client;
  verify: Verify;
  cursors: Cursors;
  now: () => Date;
  endpointAllowlist: readonly string[];
}

const auth = {
  401: problemResponse("Missing or invalid token"),
  403: problemResponse("The token lacks audit:export"),
  503: problemResponse("OpenSearch is unavailable; retry after Retry-After"),
};
const idParam = z.object({ id: z.string().openapi({ example: "exp_01JDQ3Z8K4W6Y2N9R5T7V1X3B8" }) });

const createExportRoute = createRoute({
  method: "post",
  path: "/v1/audit/exports",
  tags: ["exports"],
  summary: "Start an export",
  description:
    "Creates an export job for the token's tenant. The job takes a point-in-time snapshot when it starts and writes exactly the events that matched then. " +
    "Credentials are named by `credentials_secret` and resolved when the job runs (a missing secret fails the job with `secret_not_found`); " +
    "inline credentials are a 400. A custom endpoint must be in EXPORT_ENDPOINT_ALLOWLIST.",
  security: [{ bearer: [] }],
  request: { body: { required: true, content: { "application/json": { schema: CreateExportSchema } } } },
  responses: {
    202: { description: "Accepted", content: { "application/json": { schema: CreatedExportSchema } } },
    400: problemResponse("The body is invalid; `errors[].field` names each problem"),
    415: problemResponse("Not application/json"),
    ...auth,
  },
});

const listExportsRoute = createRoute({
  method: "get",
  path: "/v1/audit/exports",
  tags: ["exports"],
  summary: "List exports",
  description: "The tenant's exports, newest first.",
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      status: z.enum(STATUSES).optional(),
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(100)
        .optional()
        .openapi({ description: "1–100, default 20." }),
      cursor: z.string().optional(),
    }),
  },
  responses: {
    200: { description: "A page of exports", content: { "application/json": { schema: ExportListSchema } } },
    400: problemResponse("A parameter is invalid"),
    ...auth,
  },
});

const getExportRoute = createRoute({
  method: "get",
  path: "/v1/audit/exports/{id}",
  tags: ["exports"],
  summary: "An export's status, progress and manifest",
  security: [{ bearer: [] }],
  request: { params: idParam },
  responses: {
    200: { description: "The export", content: { "application/json": { schema: ExportSchema } } },
    404: problemResponse("No such export for this tenant"),
    ...auth,
  },
});

const cancelExportRoute = createRoute({
  method: "delete",
  path: "/v1/audit/exports/{id}",
  tags: ["exports"],
  summary: "Cancel a pending or running export",
  description:
    "The export becomes `cancelled` at once; a running upload stops within seconds, the parts it wrote are removed and no manifest.json is written.",
  security: [{ bearer: [] }],
  request: { params: idParam },
  responses: {
    200: { description: "Cancelled", content: { "application/json": { schema: ExportSchema } } },
    404: problemResponse("No such export for this tenant"),
    409: problemResponse("The export has already ended"),
    ...auth,
  },
});

/** Inline credentials anywhere in the body are refused by name, before any other check. */
function inlineCredentials(body: unknown, path: string[] = []): FieldError[] {
  if (typeof body !== "object" || body === null) return [];
  return Object.entries(body).flatMap(([k, v]) => [
    ...((INLINE_CREDENTIAL_KEYS as readonly string[]).includes(k)
      ? [
          {
            field: [...path, k].join("."),
            message:
              "inline credentials are not accepted: store them in ScaiVault and name the secret's path in destination.credentials_secret",
          },
        ]
      : []),
    ...inlineCredentials(v, [...path, k]),
  ]);
}

const LIST_PARAMS = new Set(["status", "limit", "cursor"]);

export function registerExports(app: OpenAPIHono<AppEnv>, deps: ExportsDeps): void {
  const guard = requireScope(deps.verify, "audit:export");
  for (const r of [createExportRoute, listExportsRoute, getExportRoute, cancelExportRoute])
    app.openAPIRegistry.registerPath(r);

  app.post(createExportRoute.path, guard, async (c) => {
    const raw = await readJson(c, "the export request");
    const inline = inlineCredentials(raw);
    if (inline.length > 0)
      throw new ProblemError(400, "inline credentials are not accepted", { errors: inline });
    const request = validBody(CreateExportSchema, raw, "the export request");
    const job = await createExport(deps.client, c.var.principal, request, {
      now: deps.now(),
      allowlist: deps.endpointAllowlist,
    });
    c.header("Location", `/v1/audit/exports/${job.export_id}`);
    return c.json({ export_id: job.export_id, status: "pending" as const, created_at: job.created_at }, 202);
  });

  app.get(listExportsRoute.path, guard, async (c) => {
    const q = new URL(c.req.url).searchParams;
    const errors: FieldError[] = [...new Set(q.keys())]
      .filter((k) => !LIST_PARAMS.has(k))
      .map((k) => ({ field: k, message: "is not a parameter of this endpoint" }));
    const status = q.get("status") ?? undefined;
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status))
      errors.push({ field: "status", message: `must be one of ${STATUSES.join(", ")}` });
    const rawLimit = q.get("limit");
    const limit = rawLimit === null ? 20 : Number(rawLimit);
    if (rawLimit !== null && !(/^\d+$/.test(rawLimit) && limit >= 1 && limit <= 100))
      errors.push({ field: "limit", message: "must be a whole number from 1 to 100" });
    const tenant = c.var.principal.tenant;
    const bind = { tenant, endpoint: c.req.routePath, filters: `status:${status ?? ""}` };
    let after: [string, string] | undefined;
    const cursor = q.get("cursor");
    if (cursor !== null) {
      const check = deps.cursors.decode<[string, string]>(cursor, bind);
      if (check.ok) after = check.position;
      else errors.push({ field: "cursor", message: check.message });
    }
    if (errors.length > 0) throw new ProblemError(400, "the query parameters are invalid", { errors });
    const page = await listExports(deps.client, tenant, {
      limit,
      ...(status ? { status: status as (typeof STATUSES)[number] } : {}),
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

  app.get("/v1/audit/exports/:id", guard, async (c) =>
    c.json(toView(await getExport(deps.client, c.var.principal.tenant, c.req.param("id") ?? "")), 200),
  );

  app.delete("/v1/audit/exports/:id", guard, async (c) =>
    c.json(
      toView(await cancelExport(deps.client, c.var.principal.tenant, c.req.param("id") ?? "", deps.now())),
      200,
    ),
  );
}
