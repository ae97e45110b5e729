/**
 * @module features/trails
 * The compliance questions: every event on one secret path; every action of one identity; and,
 * for offboarding, each distinct path an identity touched with per-action counts.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { AuditEventSchema } from "../../events/event.schema.ts";
import type { AppEnv } from "../../http/env.ts";
import { ProblemError } from "../../http/problem.ts";
import { FILTER_PARAMS } from "../query/query.params.ts";
import { eventsPage, problemResponses, type QueryDeps, readPage } from "../query/query.route.ts";
import { filterParams, pageParams } from "../query/query.schema.ts";
import { findPaths } from "../query/query.service.ts";

const withoutPrefix = FILTER_PARAMS.filter((p) => p !== "path_prefix");
const withoutIdentity = FILTER_PARAMS.filter((p) => p !== "identity_id" && p !== "identity_type");
const { path_prefix: _pp, ...secretFilters } = filterParams;
const { identity_id: _ii, identity_type: _it, ...identityFilters } = filterParams;

const secretRoute = createRoute({
  method: "get",
  path: "/v1/audit/secrets/{path}",
  tags: ["trails"],
  summary: "Every event on one secret path",
  description:
    "Exactly that path (it may contain `/`), newest first. Takes every /logs filter but path_prefix.",
  security: [{ bearer: [] }],
  request: {
    params: z.object({ path: z.string().openapi({ example: "prod/payments/db-password" }) }),
    query: z.object({ ...secretFilters, ...pageParams }),
  },
  responses: {
    200: {
      description: "A page of the secret's events",
      content: {
        "application/json": {
          schema: z
            .object({
              path: z.string(),
              entries: z.array(AuditEventSchema),
              next_cursor: z.string().nullable(),
            })
            .openapi("SecretTrail"),
        },
      },
    },
    ...problemResponses,
  },
});

const identityParams = z.object({ identity_id: z.string().openapi({ example: "user:person@acme.example" }) });

const identityRoute = createRoute({
  method: "get",
  path: "/v1/audit/identities/{identity_id}",
  tags: ["trails"],
  summary: "Every action of one identity",
  description: "Newest first. Takes every /logs filter but identity_id and identity_type.",
  security: [{ bearer: [] }],
  request: { params: identityParams, query: z.object({ ...identityFilters, ...pageParams }) },
  responses: {
    200: {
      description: "A page of the identity's events",
      content: {
        "application/json": {
          schema: z
            .object({
              identity_id: z.string(),
              entries: z.array(AuditEventSchema),
              next_cursor: z.string().nullable(),
            })
            .openapi("IdentityTrail"),
        },
      },
    },
    ...problemResponses,
  },
});

const PathSummarySchema = z
  .object({
    path: z.string(),
    actions: z.record(z.string(), z.number().int()).openapi({ example: { read: 3, write: 1 } }),
    first_at: z.string(),
    last_at: z.string(),
  })
  .openapi("PathSummary");

const identityPathsRoute = createRoute({
  method: "get",
  path: "/v1/audit/identities/{identity_id}/paths",
  tags: ["trails"],
  summary: "Each distinct path an identity touched (offboarding)",
  description:
    "Paths in ascending order with per-action counts and the first and last time, for the matching events. `limit` counts paths. Takes every /logs filter but identity_id and identity_type.",
  security: [{ bearer: [] }],
  request: { params: identityParams, query: z.object({ ...identityFilters, ...pageParams }) },
  responses: {
    200: {
      description: "A page of paths",
      content: {
        "application/json": {
          schema: z
            .object({
              identity_id: z.string(),
              paths: z.array(PathSummarySchema),
              next_cursor: z.string().nullable(),
            })
            .openapi("IdentityPaths"),
        },
      },
    },
    ...problemResponses,
  },
});

function nonEmpty(field: string, value: string): string {
  if (value.trim() === "")
    throw new ProblemError(400, `${field} must not be empty`, {
      errors: [{ field, message: "must not be empty" }],
    });
  return value;
}

export function registerTrails(app: OpenAPIHono<AppEnv>, deps: QueryDeps): void {
  const read = deps.read;
  for (const r of [secretRoute, identityRoute, identityPathsRoute]) app.openAPIRegistry.registerPath(r);

  // Any character, line separators included (`.` does not match U+2028 in a JavaScript regex).
  app.get("/v1/audit/secrets/:path{[\\s\\S]+}", read, async (c) => {
    const path = nonEmpty("path", c.req.param("path"));
    const page = await eventsPage(c, deps, { allowed: withoutPrefix, fixed: { path } });
    return c.json({ path, ...page }, 200);
  });

  app.get("/v1/audit/identities/:identity_id/paths", read, async (c) => {
    const identityId = nonEmpty("identity_id", c.req.param("identity_id"));
    const page = readPage<string>(c, deps, { allowed: withoutIdentity, fixed: { identityId } });
    const result = await findPaths(deps.client, c.var.tenant, page.filters, {
      limit: page.limit,
      ...(page.after !== undefined ? { after: page.after } : {}),
    });
    return c.json(
      {
        identity_id: identityId,
        paths: result.paths,
        next_cursor: result.next ? page.cursorFor(result.next) : null,
      },
      200,
    );
  });

  app.get("/v1/audit/identities/:identity_id", read, async (c) => {
    const identityId = nonEmpty("identity_id", c.req.param("identity_id"));
    const page = await eventsPage(c, deps, { allowed: withoutIdentity, fixed: { identityId } });
    return c.json({ identity_id: identityId, ...page }, 200);
  });
}
