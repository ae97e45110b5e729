/**
 * @module http/openapi
 * The OpenAPI 3.1 document (`/openapi.json`) is generated from the same zod schemas that validate
 * requests, so the contract and the code cannot drift. `/docs` renders it.
 */

import { swaggerUI } from "@hono/swagger-ui";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "hono";

const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:scaivault:problem:bad-request" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .openapi({ description: "RFC 9457 problem details" });

export function mountOpenApi<E extends Env>(app: OpenAPIHono<E>, version: string): void {
  app.openAPIRegistry.register("Problem", ProblemSchema);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "Claims: sub, tenant, scope (space-separated: audit:read audit:write audit:export audit:admin).",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "ScaiVault Audit Log API",
      version,
      description:
        "Records every action in ScaiVault and lets you query, summarize, stream and export that record. " +
        "Errors are RFC 9457 `application/problem+json` with a `type` of the form `urn:scaivault:problem:<slug>`, " +
        "an `errors` array naming each offending field, and the `request_id` also sent as `X-Request-Id`.",
    },
    servers: [{ url: "/" }],
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json", title: "ScaiVault Audit Log API" }));
}

/** An OpenAPI response entry for an error: problem+json with the shared Problem schema. */
export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});
