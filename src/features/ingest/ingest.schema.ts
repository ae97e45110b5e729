import { z } from "@hono/zod-openapi";
import { IngestEventSchema } from "../../events/event.schema.ts";

export const MAX_EVENTS = 10_000;

export const FieldErrorSchema = z.object({ field: z.string(), message: z.string() }).openapi("FieldError");

export const IngestRequestSchema = z
  .strictObject({ events: z.array(IngestEventSchema).min(1).max(MAX_EVENTS) })
  .openapi("IngestRequest", {
    description: `1 to ${MAX_EVENTS} events (10 MiB at most). Or send NDJSON (application/x-ndjson): one event per line.`,
  });

export const IngestResponseSchema = z
  .object({
    accepted: z.number().int().openapi({ description: "Events durably written by this request." }),
    duplicates: z.number().int().openapi({
      description:
        "Events whose id was already stored (or came earlier in this batch): the first write wins.",
    }),
    rejected: z.array(z.object({ index: z.number().int(), errors: z.array(FieldErrorSchema) })).openapi({
      description:
        "Invalid events, by position in the request, with field-level messages. Nothing of them is stored.",
    }),
    ids: z.array(z.string().nullable()).openapi({
      description:
        "ids[i] is the id of events[i] (assigned when the event had none); null where the event was rejected.",
    }),
  })
  .openapi("IngestResponse");

export type IngestResponse = z.infer<typeof IngestResponseSchema>;
