import { z } from "@hono/zod-openapi";

export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");

export const ReadinessSchema = z
  .object({
    status: z.enum(["ready", "not_ready"]),
    checks: z.object({
      opensearch: z.enum(["up", "down"]),
      bootstrap: z.enum(["done", "pending", "failed"]),
      lifecycle: z.enum(["ism", "unavailable"]).optional().openapi({
        description:
          "`ism`: lifecycle policies are installed in Index State Management. `unavailable`: the cluster has no ISM plugin, so rollover and tiering are not automatic (see README).",
      }),
    }),
    detail: z.string().optional(),
  })
  .openapi("Readiness");
