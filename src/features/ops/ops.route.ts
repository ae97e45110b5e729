/**
 * @module features/ops
 * Liveness and readiness. Neither is audited (see API.md: health checks are never recorded).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Registry } from "prom-client";
import type { StoreHealth } from "../../opensearch/health.ts";
import type { Readiness } from "../../opensearch/readiness.ts";
import { HealthSchema, ReadinessSchema } from "./ops.schema.ts";

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["operations"],
  summary: "Liveness: 200 while the process runs",
  responses: { 200: { description: "alive", content: { "application/json": { schema: HealthSchema } } } },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["operations"],
  summary: "Readiness: 200 once OpenSearch answers and templates and policies are installed",
  responses: {
    200: { description: "ready", content: { "application/json": { schema: ReadinessSchema } } },
    503: { description: "not ready", content: { "application/json": { schema: ReadinessSchema } } },
  },
});

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["operations"],
  summary: "Prometheus metrics: requests by route pattern and status, latencies, process",
  responses: {
    200: {
      description: "Prometheus text exposition format",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});

export function opsRoutes(deps: { health: StoreHealth; readiness: Readiness; metrics: Registry }) {
  return new OpenAPIHono()
    .openapi(metrics, async (c) =>
      c.text(await deps.metrics.metrics(), 200, { "Content-Type": deps.metrics.contentType }),
    )
    .openapi(healthz, (c) => c.json({ status: "ok" as const }, 200))
    .openapi(readyz, async (c) => {
      // The breaker's own probe: readiness and the breaker never disagree (opensearch/health).
      const up = await deps.health.probe();
      const result = deps.readiness.result;
      const bootstrap = result ? "done" : deps.readiness.lastError ? "failed" : "pending";
      const checks = {
        opensearch: up ? ("up" as const) : ("down" as const),
        bootstrap: bootstrap as "done" | "pending" | "failed",
        ...(result ? { lifecycle: result.lifecycle.mode } : {}),
      };
      if (up && result) return c.json({ status: "ready" as const, checks }, 200);
      c.header("Retry-After", "5");
      return c.json({ status: "not_ready" as const, checks }, 503);
    });
}
