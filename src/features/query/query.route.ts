/**
 * @module features/query
 * GET /v1/audit/logs, and the trails — the compliance questions: every event on one secret path
 * (/secrets/{path}); every action of one identity (/identities/{id}); and, for offboarding, each
 * distinct path an identity touched (/identities/{id}/paths). All audit:read, newest first, with
 * signed cursors; a trail is /logs with one filter fixed by its path.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import type { Context } from "hono";
import type { SortKey } from "../../events/event.mapping.ts";
import { FILTER_PARAMS, filterQuery, type RawFilters, text } from "../../filters/filters.ts";
import { type Gate, pageCost } from "../../http/admission.ts";
import type { Cursors } from "../../http/cursor.ts";
import type { AppEnv } from "../../http/env.ts";
import { readPage } from "../../http/paging.ts";
import { catchAll, secured } from "../../http/route.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import {
  EventsPageSchema,
  IdentityPathsSchema,
  IdentityTrailSchema,
  SecretTrailSchema,
} from "./query.schema.ts";
import { findEvents, findPaths } from "./query.service.ts";

export interface QueryDeps {
  client: Client;
  gate: Gate;
  /** The caller's tenant with its retention cut-off (resolved per request). */
  tenant: (c: Context<AppEnv>) => Promise<Tenant>;
  cursors: Cursors;
  now: () => Date;
}

type PagedQuery = RawFilters & { limit?: number; cursor?: string };

export function registerQuery(app: OpenAPIHono<AppEnv>, deps: QueryDeps): void {
  const query = (allowed: readonly (typeof FILTER_PARAMS)[number][] = FILTER_PARAMS) =>
    filterQuery({ now: deps.now, allowed, paging: { issued: (s) => deps.cursors.issued(s) } });
  const withoutPrefix = FILTER_PARAMS.filter((p) => p !== "path_prefix");
  const withoutIdentity = FILTER_PARAMS.filter((p) => p !== "identity_id" && p !== "identity_type");
  const identityParams = z.object({ identity_id: text().openapi({ example: "user:person@acme.example" }) });

  /** One page of events for the request's filters (and the one a trail fixes). */
  async function eventsPage(c: Context<AppEnv>, q: PagedQuery, fixed: RawFilters & { path?: string } = {}) {
    const page = readPage<SortKey>(c, deps.cursors, deps.now(), q, {
      fixed: {
        ...(fixed.path !== undefined ? { path: fixed.path } : {}),
        ...(fixed.identity_id !== undefined ? { identityId: fixed.identity_id } : {}),
      },
    });
    const result = await findEvents(deps.client, await deps.tenant(c), page.filters, {
      limit: page.limit,
      ...(page.after ? { after: page.after } : {}),
    });
    return { entries: result.entries, next_cursor: result.next ? page.cursorFor(result.next) : null };
  }

  const logs = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/logs",
      operationId: "listEvents",
      tags: ["query"],
      summary: "Query audit events",
      description:
        "Events matching every given filter, newest first. Unknown parameters, malformed values and a reversed window are a 400 naming the parameter.",
      request: { query: query() },
      responses: {
        200: {
          description: "A page of events",
          content: { "application/json": { schema: EventsPageSchema } },
        },
      },
    },
    { cost: pageCost },
  );
  app.openapi(logs, async (c) => c.json(await eventsPage(c, c.req.valid("query") as PagedQuery), 200));

  const secret = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/secrets/{path}",
      operationId: "getSecretTrail",
      tags: ["trails"],
      summary: "Every event on one secret path",
      description:
        "Exactly that path (it may contain `/`), newest first. Takes every /logs filter but path_prefix.",
      request: {
        params: z.object({ path: text().openapi({ example: "prod/payments/db-password" }) }),
        query: query(withoutPrefix),
      },
      responses: {
        200: {
          description: "A page of the secret's events",
          content: { "application/json": { schema: SecretTrailSchema } },
        },
      },
    },
    { cost: pageCost },
  );
  app.openapi(catchAll(app, secret, "path"), async (c) => {
    const { path } = c.req.valid("param");
    return c.json({ path, ...(await eventsPage(c, c.req.valid("query") as PagedQuery, { path })) }, 200);
  });

  const identityPaths = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/identities/{identity_id}/paths",
      operationId: "listIdentityPaths",
      tags: ["trails"],
      summary: "Each distinct path an identity touched (offboarding)",
      description:
        "Paths in ascending order with per-action counts and the first and last time, for the matching events. `limit` counts paths. Takes every /logs filter but identity_id and identity_type.",
      request: { params: identityParams, query: query(withoutIdentity) },
      responses: {
        200: {
          description: "A page of paths",
          content: { "application/json": { schema: IdentityPathsSchema } },
        },
      },
    },
    { cost: pageCost },
  );
  app.openapi(identityPaths, async (c) => {
    const { identity_id } = c.req.valid("param");
    const page = readPage<string>(c, deps.cursors, deps.now(), c.req.valid("query") as PagedQuery, {
      fixed: { identityId: identity_id },
    });
    const result = await findPaths(deps.client, await deps.tenant(c), page.filters, {
      limit: page.limit,
      ...(page.after !== undefined ? { after: page.after } : {}),
    });
    return c.json(
      { identity_id, paths: result.paths, next_cursor: result.next ? page.cursorFor(result.next) : null },
      200,
    );
  });

  const identity = secured(
    deps.gate,
    "audit:read",
    {
      method: "get",
      path: "/v1/audit/identities/{identity_id}",
      operationId: "getIdentityTrail",
      tags: ["trails"],
      summary: "Every action of one identity",
      description: "Newest first. Takes every /logs filter but identity_id and identity_type.",
      request: { params: identityParams, query: query(withoutIdentity) },
      responses: {
        200: {
          description: "A page of the identity's events",
          content: { "application/json": { schema: IdentityTrailSchema } },
        },
      },
    },
    { cost: pageCost },
  );
  app.openapi(identity, async (c) => {
    const { identity_id } = c.req.valid("param");
    return c.json(
      { identity_id, ...(await eventsPage(c, c.req.valid("query") as PagedQuery, { identity_id })) },
      200,
    );
  });
}
