import { z } from "@hono/zod-openapi";
import { ACTIONS, IDENTITY_TYPES } from "../../events/event.schema.ts";
import { INTERVALS } from "./intervals.ts";

const count = z.number().int();

export const HistogramBucketSchema = z
  .object({ start: z.string().openapi({ format: "date-time" }), total: count, failures: count })
  .openapi("HistogramBucket");

export const SummarySchema = z
  .object({
    from: z
      .string()
      .openapi({ description: "Effective window start: `from`, else the oldest matching event." }),
    to: z.string().openapi({ description: "Effective window end (exclusive): `to`, else now." }),
    total: count.openapi({ description: "Exact." }),
    outcomes: z.object({ success: count, failure: count }).openapi({ description: "Exact." }),
    by_action: z
      .object(
        Object.fromEntries(ACTIONS.map((a) => [a, count])) as Record<(typeof ACTIONS)[number], typeof count>,
      )
      .openapi({ description: "Exact; all 14 actions, zeros included." }),
    by_identity_type: z
      .object(
        Object.fromEntries(IDENTITY_TYPES.map((t) => [t, count])) as Record<
          (typeof IDENTITY_TYPES)[number],
          typeof count
        >,
      )
      .openapi({ description: "Exact; all three types, zeros included." }),
    unique_identities: count.openapi({
      description:
        "Approximate (HyperLogLog++ cardinality): exact below about 3,000 distinct values, within a few percent above.",
    }),
    unique_paths: count.openapi({ description: "Approximate, as unique_identities." }),
    top_identities: z.array(z.object({ identity_id: z.string(), count, failures: count })),
    top_paths: z.array(z.object({ path: z.string(), count })),
    top_source_ips: z.array(z.object({ source_ip: z.string(), count })),
    errors: z.record(z.string(), count).openapi({ description: "Exact count per error code." }),
    histogram: z.object({
      interval: z.enum(INTERVALS),
      buckets: z.array(HistogramBucketSchema).openapi({
        description:
          "Aligned to the interval in UTC, covering the whole window, empty buckets as zero; they sum to total.",
      }),
    }),
  })
  .openapi("Summary");

export const SeriesSchema = z
  .object({
    group_by: z.enum(["identity_id", "path", "action", "source_ip"]),
    from: z.string(),
    to: z.string(),
    interval: z.enum(INTERVALS),
    series: z.array(z.object({ key: z.string(), buckets: z.array(HistogramBucketSchema) })),
    next_cursor: z.string().nullable(),
  })
  .openapi("Series");

export const AnomaliesSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    group_by: z.enum(["identity_id", "path"]),
    baseline: z.string().openapi({ example: "P28D" }),
    threshold: z.number(),
    min_count: count,
    evaluated: count.openapi({
      description: "Entities with activity in the window or the baseline that were scored.",
    }),
    anomalies: z.array(
      z.object({
        key: z.string(),
        observed: count.openapi({ description: "Events in the window." }),
        baseline: z.object({ mean: z.number(), stddev: z.number(), slots: count }).nullable().openapi({
          description:
            "Per-slot mean and standard deviation over the baseline (slots as long as the window); null for a new entity.",
        }),
        score: z
          .number()
          .nullable()
          .openapi({ description: "z = (observed − mean) / max(stddev, √mean, 1); null for a new entity." }),
        reason: z.enum(["spike", "drop", "new"]),
      }),
    ),
  })
  .openapi("Anomalies");
