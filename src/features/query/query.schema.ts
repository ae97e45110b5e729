/**
 * @module features/query/schema
 * What /logs and the trails answer. Their parameters are the filter language (src/filters).
 */
import { z } from "@hono/zod-openapi";
import { AuditEventSchema } from "../../events/event.schema.ts";

export const EventsPageSchema = z
  .object({
    entries: z
      .array(AuditEventSchema)
      .openapi({ description: "Newest first: timestamp descending, then id descending." }),
    next_cursor: z.string().nullable().openapi({ description: "null on the last page." }),
  })
  .openapi("EventsPage");

export const SecretTrailSchema = z
  .object({ path: z.string(), entries: z.array(AuditEventSchema), next_cursor: z.string().nullable() })
  .openapi("SecretTrail");

export const IdentityTrailSchema = z
  .object({ identity_id: z.string(), entries: z.array(AuditEventSchema), next_cursor: z.string().nullable() })
  .openapi("IdentityTrail");

const PathSummarySchema = z
  .object({
    path: z.string(),
    actions: z.record(z.string(), z.number().int()).openapi({ example: { read: 3, write: 1 } }),
    first_at: z.string(),
    last_at: z.string(),
  })
  .openapi("PathSummary");

export const IdentityPathsSchema = z
  .object({ identity_id: z.string(), paths: z.array(PathSummarySchema), next_cursor: z.string().nullable() })
  .openapi("IdentityPaths");
