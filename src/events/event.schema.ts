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

/**
 * Keys that turn into prototype pollution in whoever reads the record naively, and that JSON
 * readers built on secure-json-parse (the OpenSearch and Elasticsearch clients, Fastify) refuse
 * outright. Refused at ingest, by name, at any depth.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Characters an identifier-like field (path, identity id, session id, request id, error code) may
 * not hold: controls (NUL, CR, LF, ESC, …), format characters (zero-width, bidirectional
 * overrides) and line or paragraph separators. They split CSV rows and log lines, spoof what a
 * reader sees, and cannot be addressed in a URL.
 */
const NOT_IN_IDENTIFIERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** A user agent may be odd (any script, symbols, format characters), but not multi-line or a terminal control. */
const NOT_IN_FREE_TEXT = /[\p{Cc}\p{Zl}\p{Zp}]/u;

const ILL_FORMED = "is not well-formed Unicode (it holds a lone surrogate)";

/** A text field: `max` characters, well-formed, none of `forbidden` (one check: it runs on every event). */
const text = (max: number, forbidden: RegExp, what: string) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((s, ctx) => {
      if (!s.isWellFormed()) ctx.addIssue({ code: "custom", message: ILL_FORMED });
      else if (forbidden.test(s)) ctx.addIssue({ code: "custom", message: `must not contain ${what}` });
    });

const identifier = (max: number) =>
  text(max, NOT_IN_IDENTIFIERS, "control, format or line-separator characters");
const optionalIdentifier = (max: number) => identifier(max).nullish();

/** RFC 9110 token characters: GET, PUT, LIST, … */
const HTTP_METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}$/;

/**
 * A path must be reachable by every read (`GET /v1/audit/secrets/{path}`): URL parsers remove
 * `.` and `..` segments, so those are refused; so are empty segments, except that one trailing
 * `/` is kept (listing paths such as `secret/metadata/`).
 */
function pathIssue(p: string): string | undefined {
  if (p.startsWith("/")) return "must not start with '/'";
  const segments = p.split("/");
  if (segments.at(-1) === "") segments.pop();
  if (segments.some((s) => s === "")) return "must not contain empty segments ('//')";
  if (segments.some((s) => s === "." || s === "..")) return "must not contain '.' or '..' segments";
  return undefined;
}

/**
 * Walks a context without recursion (a deeply nested one must not overflow the stack): reserved
 * keys and ill-formed strings anywhere, then depth, then size.
 */
function contextIssues(context: object): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: context, path: [] }];
  let tooDeep = false;
  while (stack.length > 0 && issues.length < 20) {
    const { v, path } = stack.pop() as { v: unknown; path: (string | number)[] };
    if (typeof v === "string") {
      if (!v.isWellFormed()) issues.push({ path, message: ILL_FORMED });
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (path.length >= MAX_CONTEXT_DEPTH) {
      tooDeep = true;
      continue;
    }
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
    for (const [k, inner] of entries) {
      if (typeof k === "string" && RESERVED_KEYS.has(k))
        issues.push({ path: [...path, k], message: "is a reserved key (__proto__, constructor, prototype)" });
      else if (typeof k === "string" && !k.isWellFormed())
        issues.push({ path, message: `a key ${ILL_FORMED}` });
      stack.push({ v: inner, path: [...path, k] });
    }
  }
  if (tooDeep) issues.push({ path: [], message: `must nest at most ${MAX_CONTEXT_DEPTH} levels deep` });
  // Measured only once the depth is known to be small: stringifying a deep value overflows the stack.
  else if (Buffer.byteLength(JSON.stringify(context)) > MAX_CONTEXT_BYTES)
    issues.push({ path: [], message: `must be at most ${MAX_CONTEXT_BYTES} bytes as JSON` });
  return issues;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

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
    path: identifier(1024)
      .superRefine((p, ctx) => {
        const issue = pathIssue(p);
        if (issue) ctx.addIssue({ code: "custom", message: issue });
      })
      .openapi({ example: "prod/payments/db-password" }),
    identity: z
      .strictObject({
        id: identifier(512).openapi({
          pattern: "^(user|service_account|group):.",
          example: "user:person@acme.example",
          description: "The identity's type, a colon, then its id within that type.",
        }),
        type: z.enum(IDENTITY_TYPES),
        session_id: optionalIdentifier(256),
      })
      .refine((i) => i.id.startsWith(`${i.type}:`) && i.id.length > i.type.length + 1, {
        message: "id must carry its type as a prefix, e.g. user:…, service_account:… or group:…",
        path: ["id"],
      }),
    source_ip: z
      .string()
      .refine((ip) => isIP(ip) !== 0, "must be an IPv4 or IPv6 address")
      .nullish()
      .openapi({
        anyOf: [{ type: "string", format: "ipv4" }, { type: "string", format: "ipv6" }, { type: "null" }],
        example: "203.0.113.7",
      }),
    user_agent: text(2048, NOT_IN_FREE_TEXT, "control or line-separator characters").nullish(),
    request: z
      .strictObject({
        id: optionalIdentifier(256),
        method: z.string().regex(HTTP_METHOD, "must be an HTTP method token such as GET").nullish(),
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
    error_code: optionalIdentifier(128),
    context: z
      .custom<Record<string, unknown>>(isPlainObject, "must be an object")
      .superRefine((c, ctx) => {
        for (const issue of contextIssues(c)) ctx.addIssue({ code: "custom", ...issue });
      })
      .nullish()
      .openapi({
        type: ["object", "null"],
        additionalProperties: true,
        description:
          `Per-action extra data: at most ${MAX_CONTEXT_BYTES} bytes as JSON and ${MAX_CONTEXT_DEPTH} levels deep; the keys __proto__, constructor and prototype are refused. ` +
          "Secret values are redacted at ingest: the value under any key whose last word is a value carrier (value, secret, password, token, key, credential, authorization, cookie, …), " +
          "and any text that looks like a credential (private keys, JWTs, cloud and SaaS tokens, passwords in URLs); see the README's Redaction section.",
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
