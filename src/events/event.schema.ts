/**
 * @module events/event.schema
 * The audit event as the API speaks it (API.md, "The audit event"): the zod schemas are the
 * contract, the types are inferred from them, and the OpenAPI document is generated from them.
 */
import { isIP } from "node:net";
import { z } from "@hono/zod-openapi";
import { parseTimestamp } from "./time.ts";

export const ACTIONS = [
  "read",
  "write",
  "delete",
  "list",
  "rotate",
  "policy_create",
  "policy_update",
  "policy_delete",
  "policy_bind",
  "policy_unbind",
  "pki_issue",
  "pki_revoke",
  "dynamic_generate",
  "dynamic_revoke",
] as const;
export type Action = (typeof ACTIONS)[number];

export const IDENTITY_TYPES = ["user", "service_account", "group"] as const;
export type IdentityType = (typeof IDENTITY_TYPES)[number];

/** Client-chosen ids are the idempotency key: printable, no separators we use internally. */
export const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;

/** Context is free-form per action, but bounded: it is stored and searched as a flat_object. */
const MAX_CONTEXT_BYTES = 32 * 1024;
const MAX_CONTEXT_DEPTH = 8;

function depth(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  const inner = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...inner.map(depth));
}

const Timestamp = z
  .string()
  .transform((s, ctx) => {
    const t = parseTimestamp(s);
    if (!t.ok) {
      ctx.addIssue({ code: "custom", message: t.message });
      return z.NEVER;
    }
    return t.value;
  })
  .openapi({ type: "string", format: "date-time", example: "2026-11-26T14:30:05.123456Z" });

const optionalText = (max: number) => z.string().min(1).max(max).nullish();

export const IngestEventSchema = z
  .strictObject({
    id: z
      .string()
      .regex(
        EVENT_ID,
        "must be 1-128 characters: letters, digits, '.', '_', '~' or '-', starting with a letter or digit",
      )
      .optional()
      .openapi({
        description: "Idempotency key. Assigned (a ULID) when absent.",
        example: "01JDQ3Z8K4W6Y2N9R5T7V1X3B8",
      }),
    timestamp: Timestamp.openapi({
      description:
        "When the action happened: RFC 3339, any offset (stored as UTC), at most six fractional digits.",
    }),
    action: z.enum(ACTIONS),
    path: z
      .string()
      .min(1)
      .max(1024)
      .refine((p) => !p.startsWith("/"), "must not start with '/'")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
      .refine((p) => !/[\u0000-\u001f]/.test(p), "must not contain control characters")
      .openapi({ example: "prod/payments/db-password" }),
    identity: z
      .strictObject({
        id: z.string().min(1).max(512).openapi({ example: "user:person@acme.example" }),
        type: z.enum(IDENTITY_TYPES),
        session_id: optionalText(256),
      })
      .refine((i) => i.id.startsWith(`${i.type}:`) && i.id.length > i.type.length + 1, {
        message: "id must carry its type as a prefix, e.g. user:…, service_account:… or group:…",
        path: ["id"],
      }),
    source_ip: z
      .string()
      .refine((ip) => isIP(ip) !== 0, "must be an IPv4 or IPv6 address")
      .nullish()
      .openapi({ example: "203.0.113.7" }),
    user_agent: optionalText(2048),
    request: z
      .strictObject({
        id: optionalText(256),
        method: optionalText(16),
        status: z.number().int().min(100).max(599).nullish(),
        duration_ms: z
          .number()
          .min(0)
          .max(86_400_000)
          .refine(
            (ms) => Math.abs(ms * 1e6 - Math.round(ms * 1e6)) < 1e-3,
            "must have at most six decimals (nanoseconds)",
          )
          .nullish(),
      })
      .nullish(),
    success: z.boolean(),
    error_code: optionalText(128),
    context: z
      .record(z.string(), z.unknown())
      .refine(
        (c) => JSON.stringify(c).length <= MAX_CONTEXT_BYTES,
        `must be at most ${MAX_CONTEXT_BYTES} bytes as JSON`,
      )
      .refine((c) => depth(c) <= MAX_CONTEXT_DEPTH, `must nest at most ${MAX_CONTEXT_DEPTH} levels deep`)
      .nullish()
      .openapi({
        description:
          'Per-action extra data. Values under keys ending in a value-carrier word (value, secret, password, passwd, passphrase, pwd, token, key, credential, and their plurals; words split on _, -, . and camelCase) are replaced by "[REDACTED]" at ingest.',
        example: { rotation_reason: "scheduled" },
      }),
  })
  .openapi("IngestEvent");

export type IngestEvent = z.infer<typeof IngestEventSchema>;

/** An event as every read returns it: all fields present, absent ones null. */
export const AuditEventSchema = z
  .object({
    id: z.string(),
    timestamp: z.string().openapi({ format: "date-time", example: "2026-11-26T14:30:05.123456Z" }),
    action: z.enum(ACTIONS),
    path: z.string(),
    identity: z.object({ id: z.string(), type: z.enum(IDENTITY_TYPES), session_id: z.string().nullable() }),
    source_ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    request: z.object({
      id: z.string().nullable(),
      method: z.string().nullable(),
      status: z.number().int().nullable(),
      duration_ms: z.number().nullable(),
    }),
    success: z.boolean(),
    error_code: z.string().nullable(),
    context: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEvent");

export type AuditEvent = z.infer<typeof AuditEventSchema>;
