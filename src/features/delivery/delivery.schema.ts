/**
 * @module features/delivery/schema
 * The destinations contract (API.md › Additions › Delivery destinations): the create and update
 * requests — one variant per receiver type, each with its own `config` and formats — and a
 * destination with its status as clients read it.
 */
import { z } from "@hono/zod-openapi";
import { secretPath } from "../../destinations/credentials.ts";
import { RECEIVERS } from "../../destinations/receiver.ts";
import { filterJson } from "../../filters/filters.ts";
import { FORMATS } from "../../formats/formats.ts";

const STATES = ["active", "paused", "failing"] as const;
export type State = (typeof STATES)[number];

/** The receivers' config schemas by their OpenAPI names (a change's `config` is one of them). */
const CONFIG_NAMES = ["WebhookConfig", "SplunkHecConfig", "SyslogConfig", "KafkaConfig"];

export const DESTINATION_ID = /^dst_[0-9A-HJKMNP-TV-Z]{26}$/;

/** One line: no control characters (C0, DEL, C1) or line/paragraph separators, not blank. */
const LINE = "[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]";
const name = z
  .string()
  .max(200)
  .regex(
    new RegExp(`^${LINE}*[^\\s\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029]${LINE}*$`),
    "must be one line of printable text, not blank",
  )
  .openapi({ description: "A label for people: one line (unique names are not enforced)." });

const BatchSchema = z
  .object({
    max_events: z.number().int().min(1).max(10_000).default(500).openapi({
      description:
        "Events per batch sent (default 500). A webhook in `structured` mode still sends one event per request.",
    }),
    linger_ms: z.number().int().min(0).max(60_000).default(1000).openapi({
      description: "How long a batch that is not full may wait for more events (default 1000).",
    }),
  })
  .strict()
  .openapi("DeliveryBatch");

/** The fields every destination has; `now` settles what a relative instant in its filters may be. */
function common(now: () => Date) {
  return {
    name,
    filters: filterJson(now).default({}).openapi("DestinationFilters", {
      description:
        "The /logs filters as JSON (`action` a list or a string), plus `path` for one secret's exact path: only matching events are sent. Relative times are resolved when the destination is created.",
    }),
    batch: BatchSchema.default({ max_events: 500, linger_ms: 1000 }),
    credentials_secret: secretPath,
  };
}

/** One create variant per receiver type, discriminated by `type`. */
export function createDestinationSchema(now: () => Date) {
  const variants = RECEIVERS.map((r) =>
    z
      .object({
        type: z.literal(r.type),
        format: z
          .enum(r.formats)
          .default(r.formats[0])
          .openapi({
            description: `The events' format: ${r.formats.map((f) => `\`${f}\``).join(", ")} (default \`${r.formats[0]}\`).`,
          }),
        config: r.config,
        ...common(now),
      })
      .strict(),
  );
  return z
    .discriminatedUnion("type", variants as unknown as [(typeof variants)[0], ...typeof variants])
    .openapi("CreateDestination");
}
export type CreateDestination = z.infer<ReturnType<typeof createDestinationSchema>>;

/** PATCH: any of the changeable fields (the type stays; a new `config` replaces the old one whole). */
export function updateDestinationSchema(now: () => Date) {
  const c = common(now);
  return z
    .object({
      name: c.name.optional(),
      format: z.enum(FORMATS).optional(),
      filters: filterJson(now).optional().openapi({ description: "Replaces the filters whole." }),
      batch: BatchSchema.optional(),
      credentials_secret: secretPath.optional(),
      config: z
        .record(z.string(), z.unknown())
        .optional()
        .openapi({
          description: "Replaces the config whole; checked against the destination's type.",
          anyOf: CONFIG_NAMES.map((name) => ({ $ref: `#/components/schemas/${name}` })),
        }),
    })
    .strict()
    .refine((v) => Object.keys(v).length > 0, "must change at least one field")
    .openapi("UpdateDestination", { minProperties: 1 });
}
export type UpdateDestination = z.infer<ReturnType<typeof updateDestinationSchema>>;

export const ReplaySchema = z
  .union(
    [
      z
        .object({
          from: z.string().openapi({
            description:
              "Send again every matching event with a timestamp at or after this instant (RFC 3339, or relative such as now-24h) that the store holds within the tenant's retention, then carry on with new ones.",
          }),
        })
        .strict(),
      z
        .object({
          position: z.string().openapi({
            description: "A position (as `status.position` shows it) to resume from.",
          }),
        })
        .strict(),
    ],
    { error: "give exactly one of from and position" },
  )
  .openapi("ReplayDestination");

const StatusSchema = z
  .object({
    state: z.enum(STATES).openapi({
      description:
        "`failing`: the receiver has refused or not answered for longer than DELIVERY_FAILING_AFTER_MS; it is retried with back-off for as long as the events are within retention, never skipped.",
    }),
    position: z.string().nullable().openapi({
      description: "Where in store order delivery has got (everything before it was acknowledged).",
    }),
    lag_events: z.number().int().openapi({ description: "Matching events stored beyond the position." }),
    lag_seconds: z.number().openapi({
      description: "Seconds since the oldest matching event not yet acknowledged was stored (0 when none).",
    }),
    delivered: z.number().int(),
    failed: z.number().int().openapi({ description: "Attempts the receiver refused or did not answer." }),
    skipped_by_retention: z.number().int().openapi({
      description: "Events not sent because they had passed the tenant's retention before their turn came.",
    }),
    last_success_at: z.string().nullable(),
    last_error: z
      .object({ at: z.string(), message: z.string() })
      .nullable()
      .openapi({ description: "The last failure, as the receiver answered it (no secrets)." }),
    replaying_from: z.string().nullable(),
  })
  .openapi("DestinationStatus");
export type Status = z.infer<typeof StatusSchema>;

export const DestinationSchema = z
  .object({
    destination_id: z.string().openapi({ example: "dst_01JDQ3Z8K4W6Y2N9R5T7V1X3B8" }),
    name: z.string(),
    type: z.string(),
    format: z.enum(FORMATS),
    filters: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The filters, relative times resolved." }),
    config: z.record(z.string(), z.unknown()),
    batch: BatchSchema,
    credentials_secret: z.string(),
    paused: z.boolean(),
    created_at: z.string(),
    created_by: z.string(),
    updated_at: z.string(),
    updated_by: z.string(),
    status: StatusSchema,
  })
  .openapi("DeliveryDestination");
export type DestinationView = z.infer<typeof DestinationSchema>;

export const DestinationListSchema = z
  .object({ entries: z.array(DestinationSchema) })
  .openapi("DeliveryDestinationList");

export const TestResultSchema = z
  .object({
    ok: z.boolean(),
    event_id: z.string().openapi({ description: "The synthetic event's id." }),
    duration_ms: z.number(),
    error: z.string().nullable().openapi({ description: "What the receiver answered, when it refused." }),
  })
  .openapi("DestinationTest");
