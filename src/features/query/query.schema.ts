import { z } from "@hono/zod-openapi";
import { ACTIONS, AuditEventSchema, IDENTITY_TYPES } from "../../events/event.schema.ts";
import { DEFAULT_LIMIT, MAX_LIMIT } from "./query.params.ts";

const instant =
  "ISO 8601 instant with any offset (`2026-11-26T14:30:00+01:00`), a date (`2026-11-26`, midnight UTC), or relative: `now`, `now-15m`, `now-7d` (units s, m, h, d, w). Relative times are resolved once, on the first page.";

/** What parseInstant accepts, as a pattern for the document (parseInstant also checks the calendar). */
const INSTANT_PATTERN =
  "^(now([+-][0-9]{1,6}[smhdw])?|[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?)$";

/** The query parameters, for the OpenAPI document (validation is in query.params.ts: it collects every error). */
export const filterParams = {
  from: z
    .string()
    .regex(new RegExp(INSTANT_PATTERN))
    .optional()
    .openapi({ description: `Inclusive lower bound. ${instant}`, example: "now-7d" }),
  to: z
    .string()
    .regex(new RegExp(INSTANT_PATTERN))
    .optional()
    .openapi({ description: `Exclusive upper bound; must be after from. ${instant}` }),
  action: z
    .array(z.enum(ACTIONS))
    .optional()
    .openapi({ description: "Repeat (`action=read&action=write`) or comma-separate (`action=read,write`)." }),
  identity_id: z
    .string()
    .min(1)
    .optional()
    .openapi({ description: "Exact identity id, e.g. `user:person@acme.example`." }),
  identity_type: z.enum(IDENTITY_TYPES).optional(),
  path_prefix: z.string().regex(/^[^/]/).optional().openapi({
    description:
      "Paths under a prefix, on segment boundaries: `prod/db` matches `prod/db` and `prod/db/x`, not `prod/dbx`.",
  }),
  success: z.enum(["true", "false"]).optional(),
  source_ip: z
    .string()
    .optional()
    .openapi({ description: "An IPv4/IPv6 address, or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`)." }),
  request_id: z.string().min(1).optional(),
  q: z.string().min(1).max(512).optional().openapi({
    description:
      "Free text over path, identity, user agent, error code and context values. Words are split on anything but letters and digits and must all occur (AND).",
  }),
};

export const pageParams = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_LIMIT)
    .optional()
    .openapi({ description: `1–${MAX_LIMIT}, default ${DEFAULT_LIMIT}.` }),
  cursor: z.string().optional().openapi({
    description:
      "The next_cursor of the previous page. Bound to the tenant and the filters (send the same filters; limit may change). Stable while new events arrive.",
  }),
};

export const EventsPageSchema = z
  .object({
    entries: z
      .array(AuditEventSchema)
      .openapi({ description: "Newest first: timestamp descending, then id descending." }),
    next_cursor: z.string().nullable().openapi({ description: "null on the last page." }),
  })
  .openapi("EventsPage");
