/**
 * @module features/retention
 * GET /v1/audit/retention (audit:read) and PUT /v1/audit/retention (audit:admin): the tenant's
 * retention_days (1–3650, default 2557), and what the cluster does with old indices
 * (cold_after_days from the lifecycle policy, cold_tier when ISM and `temp: cold` nodes exist).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import type { Gate } from "../../http/admission.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { exactJson, secured } from "../../http/route.ts";
import type { Readiness } from "../../opensearch/readiness.ts";
import {
  DEFAULT_RETENTION_DAYS,
  lastPurge,
  MAX_RETENTION_DAYS,
  saveRetention,
  storedRetention,
} from "../../tenancy/retention.ts";

export interface RetentionDeps {
  client: Client;
  gate: Gate;
  readiness: Readiness;
  now: () => Date;
}

const RetentionSchema = z
  .object({
    retention_days: z.number().int().openapi({ example: DEFAULT_RETENTION_DAYS }),
    cold_after_days: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Read-only: when indices move to the cold tier." }),
    cold_tier: z
      .boolean()
      .openapi({ description: "Read-only: whether the cluster has a cold tier that ISM moves indices to." }),
    updated_at: z.string().nullable().openapi({ description: "null while the tenant keeps the default." }),
    last_purge: z
      .object({
        ran_at: z.string().openapi({ description: "When the purge looked at this tenant's events." }),
        cutoff: z.string().openapi({ description: "Events older than this were to be deleted." }),
        expired: z.number().int().openapi({ description: "Expired events found." }),
        deleted: z.number().int(),
        remaining: z
          .number()
          .int()
          .openapi({ description: "Expired events still stored afterwards: 0 when it worked." }),
        succeeded: z.boolean(),
        failures: z
          .array(
            z.object({
              kind: z.enum(["task_error", "document_failures", "version_conflicts", "timeout", "remaining"]),
              detail: z.string(),
            }),
          )
          .openapi({
            description: "Why it did not fully succeed; the next purge (hourly by default) retries.",
          }),
      })
      .nullable()
      .openapi({
        description:
          "The last purge run that found this tenant's events (hourly by default): whether retention is actually enforced. null before any.",
      }),
  })
  .openapi("Retention");

const PutRetentionSchema = z
  .object({
    retention_days: z
      .number({ message: `must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}` })
      .int(`must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}`)
      .min(1, `must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}`)
      .max(MAX_RETENTION_DAYS, `must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}`),
  })
  .strict()
  .openapi("PutRetention");

export function registerRetention(app: OpenAPIHono<AppEnv>, deps: RetentionDeps): void {
  const cluster = () => {
    const r = deps.readiness.result;
    return {
      cold_after_days: r?.coldAfterDays ?? null,
      cold_tier: Boolean(r && r.lifecycle.mode === "ism" && r.coldTier),
    };
  };

  const get = secured(deps.gate, "audit:read", {
    method: "get",
    path: "/v1/audit/retention",
    operationId: "getRetention",
    tags: ["retention"],
    summary: "The tenant's retention",
    responses: {
      200: { description: "Retention", content: { "application/json": { schema: RetentionSchema } } },
    },
  });
  app.openapi(get, async (c) => {
    const tenant = c.var.principal.tenant;
    const [stored, purge] = await Promise.all([
      storedRetention(deps.client, tenant),
      lastPurge(deps.client, tenant),
    ]);
    return c.json(
      {
        retention_days: stored?.retention_days ?? DEFAULT_RETENTION_DAYS,
        ...cluster(),
        updated_at: stored?.updated_at ?? null,
        last_purge: purge,
      } as z.infer<typeof RetentionSchema>,
      200,
    );
  });

  const put = secured(
    deps.gate,
    "audit:admin",
    {
      method: "put",
      path: "/v1/audit/retention",
      operationId: "setRetention",
      tags: ["retention"],
      summary: "Set the tenant's retention",
      description:
        "Events older than `retention_days` disappear from every endpoint at once and are deleted by the next purge (hourly by default). " +
        "Raising it keeps every event still inside the new window; events a lower retention hid may already be purged.",
      request: { body: { required: true, content: { "application/json": { schema: PutRetentionSchema } } } },
      responses: {
        200: { description: "Retention", content: { "application/json": { schema: RetentionSchema } } },
        415: problemResponse("Not application/json"),
      },
    },
    { middleware: [exactJson()] },
  );
  app.openapi(put, async (c) => {
    const body = c.req.valid("json");
    const p = c.var.principal;
    const [saved, purge] = await Promise.all([
      saveRetention(deps.client, p.tenant, body.retention_days, p.subject, deps.now()),
      lastPurge(deps.client, p.tenant),
    ]);
    return c.json(
      {
        retention_days: saved.retention_days,
        ...cluster(),
        updated_at: saved.updated_at,
        last_purge: purge,
      } as z.infer<typeof RetentionSchema>,
      200,
    );
  });
}
