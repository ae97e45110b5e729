/**
 * @module filters
 * THE filter language of every event read (`/logs`, trails, summaries, the live tail, exports):
 * one zod schema per parameter, the same whether it arrives in a query string or in JSON, turned
 * into `Filters` — then into OpenSearch clauses (filters.query) or an in-memory predicate
 * (filters.match). Routes put these schemas in their OpenAPI definition, so the document is the
 * validation. Pure: the clock is passed in.
 */
import { createHash } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { z } from "@hono/zod-openapi";
import { type FieldError, InvalidInput } from "../errors.ts";
import { ACTIONS, type Action, IDENTITY_TYPES, type IdentityType } from "../events/event.schema.ts";
import { parseInstant } from "../events/time.ts";

export const FILTER_PARAMS = [
  "from",
  "to",
  "action",
  "identity_id",
  "identity_type",
  "path_prefix",
  "success",
  "source_ip",
  "request_id",
  "q",
] as const;
export type FilterParam = (typeof FILTER_PARAMS)[number];

/** Filters with time bounds resolved to canonical UTC instants. */
export interface Filters {
  from?: string;
  to?: string;
  actions?: Action[];
  identityId?: string;
  identityType?: IdentityType;
  /** Exact path (the secret trail, an export). */
  path?: string;
  pathPrefix?: string;
  success?: boolean;
  sourceIp?: string;
  requestId?: string;
  q?: string;
}

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
/** The longest cursor this service issues is far below this. */
export const MAX_CURSOR_CHARS = 4096;

/** IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`): to OpenSearch these are IPv4 addresses. */
const MAPPED = new BlockList();
MAPPED.addSubnet("::ffff:0:0", 96, "ipv6");

/** `::ffff:a00:1` → `10.0.0.1` (the address is known to be mapped). */
function unmapped(address: string): string {
  const hextets = new URL(`http://[${address}]`).hostname.slice(1, -1).split(":").slice(-2);
  const [hi = 0, lo = 0] = hextets.map((h) => Number.parseInt(h, 16));
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/**
 * `10.0.0.0/8`, `2001:db8::/32` or a plain address, as OpenSearch's ip term query takes it. An
 * IPv4-mapped block is the IPv4 block it covers (`::ffff:10.0.0.0/104` → `10.0.0.0/8`): OpenSearch
 * reads the mapped address as IPv4 and would refuse a prefix above 32. A mapped block shorter than
 * /96 reaches beyond IPv4 and has no such form, so it is refused.
 */
export function parseSourceIp(v: string): { ok: true; value: string } | { ok: false; message: string } {
  const invalid = {
    ok: false as const,
    message: "must be an IPv4 or IPv6 address or a CIDR block such as 10.0.0.0/8",
  };
  const [addr, bits, extra] = v.split("/");
  if (extra !== undefined || !addr) return invalid;
  const family = isIP(addr);
  if (family === 0) return invalid;
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)))
    return invalid;
  if (family === 6 && MAPPED.check(addr, "ipv6")) {
    if (bits === undefined) return { ok: true, value: unmapped(addr) };
    if (Number(bits) < 96)
      return { ok: false, message: "an IPv4-mapped block (::ffff:…) must be /96 or longer" };
    return { ok: true, value: `${unmapped(addr)}/${Number(bits) - 96}` };
  }
  return { ok: true, value: v };
}

export const isAddressOrCidr = (v: string): boolean => parseSourceIp(v).ok;

/** A stable hash of a filter set: keys sorted, so the order of parameters does not matter. */
export function filterHash(filters: Record<string, unknown>): string {
  const canonical = JSON.stringify(filters, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 22);
}

// ---- One schema per parameter --------------------------------------------------------------

/** Where a filter arrives: a query string (one text value per name) or a JSON body (typed values). */
export type Form = "query" | "json";

/**
 * One text value. In a query string a repeated name arrives as a list: "is given more than once";
 * a value of whitespace only is "must not be empty".
 */
export const text = () =>
  z
    .string({
      error: (issue) =>
        Array.isArray(issue.input)
          ? "is given more than once"
          : issue.input === undefined
            ? "is required"
            : "must be a string",
    })
    .refine((s) => s.trim() !== "", "must not be empty");

/** What `text()` takes, for the document: at least one character that is not white space. */
export const NOT_BLANK = { type: "string" as const, minLength: 1, pattern: "\\S" };

const INSTANT =
  "ISO 8601 instant with any offset (`2026-11-26T14:30:00+01:00`), a date (`2026-11-26`, midnight UTC), or relative: `now`, `now-15m`, `now-7d` (units s, m, h, d, w); between 1970 and 2261.";
/** When relative times are settled, by where the filters arrive. */
const RESOLVED: Record<Form, string> = {
  query: "Relative times are resolved once, on the first page.",
  json: "Relative times are resolved when the export is created.",
};

/** What parseInstant accepts, as a pattern for the document (parseInstant also checks the calendar). */
const INSTANT_PATTERN =
  "^(now([+-][0-9]{1,6}[smhdw])?|[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?)$";

/** An instant as written (relative ones stay relative here; `resolve` settles them against a clock). */
const instant = (now: () => Date, example: string) =>
  text()
    .superRefine((s, ctx) => {
      const t = parseInstant(s, now());
      if (!t.ok) ctx.addIssue({ code: "custom", message: t.message });
    })
    .openapi({ type: "string", pattern: INSTANT_PATTERN, example });

const ACTION_LIST = `one or more of ${ACTIONS.join(", ")}`;

const ACTION_ITEMS = { type: "string" as const, enum: [...ACTIONS] };
const ACTIONS_DOC = {
  query: {
    type: "array" as const,
    items: ACTION_ITEMS,
    description: "Repeat (`action=read&action=write`) or comma-separate (`action=read,write`).",
  },
  json: {
    anyOf: [
      { type: "string" as const, pattern: `^ *(${ACTIONS.join("|")}) *(, *(${ACTIONS.join("|")}) *)*$` },
      { type: "array" as const, items: ACTION_ITEMS, minItems: 1 },
    ],
    description: `One or more of ${ACTIONS.join(", ")}: a list, or a string (comma-separated).`,
  },
};

/** One or more actions: repeated, comma-separated, or (JSON) a list; sorted and without repeats. */
const actions = (form: Form) =>
  z
    .union([z.string(), z.array(z.string())], { error: `must be ${ACTION_LIST}` })
    .transform((v, ctx) => {
      const list = (Array.isArray(v) ? v : [v]).flatMap((a) => a.split(",")).map((a) => a.trim());
      if (list.length === 0) {
        ctx.addIssue({ code: "custom", message: `must be ${ACTION_LIST}` });
        return z.NEVER;
      }
      const bad = list.filter((a) => !(ACTIONS as readonly string[]).includes(a));
      if (bad.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `unknown action(s) ${bad.map((b) => `'${b}'`).join(", ")}; one of ${ACTIONS.join(", ")}`,
        });
        return z.NEVER;
      }
      return [...new Set(list as Action[])].sort();
    })
    .openapi(ACTIONS_DOC[form]);

const identityType = () =>
  text()
    .refine(
      (s) => (IDENTITY_TYPES as readonly string[]).includes(s),
      `must be one of ${IDENTITY_TYPES.join(", ")}`,
    )
    .transform((s) => s as IdentityType)
    .openapi({ type: "string", enum: [...IDENTITY_TYPES] });

const NOT_A_LEADING_SLASH = "^(?:[^/\\s]|\\s+\\S)";

/** On segment boundaries; a trailing `/` changes nothing. */
const pathPrefix = () =>
  text()
    .transform((s, ctx) => {
      const p = s.replace(/\/+$/, "");
      if (p.startsWith("/")) ctx.addIssue({ code: "custom", message: "paths have no leading '/'" });
      else if (p === "") ctx.addIssue({ code: "custom", message: "must name at least one path segment" });
      return p;
    })
    .openapi({
      type: "string",
      minLength: 1,
      // Not blank, and no leading '/'.
      pattern: NOT_A_LEADING_SLASH,
      description:
        "Paths under a prefix, on segment boundaries: `prod/db` matches `prod/db` and `prod/db/x`, not `prod/dbx`.",
    });

const success = (form: Form) =>
  form === "json"
    ? z.boolean({ error: "must be true or false" })
    : text()
        .refine((s) => s === "true" || s === "false", "must be true or false")
        .transform((s) => s === "true")
        .openapi({ type: "string", enum: ["true", "false"] });

const IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const IPV4 = `${IPV4_OCTET}(\\.${IPV4_OCTET}){3}`;
/** An IPv6 address in hex groups, `::` in any one place (RFC 4291 §2.2, without an IPv4 tail). */
const H = "[0-9A-Fa-f]{1,4}";
const IPV6 = `(${[
  `(${H}:){7}${H}`,
  `(${H}:){1,7}:`,
  `(${H}:){1,6}:${H}`,
  `(${H}:){1,5}(:${H}){1,2}`,
  `(${H}:){1,4}(:${H}){1,3}`,
  `(${H}:){1,3}(:${H}){1,4}`,
  `(${H}:){1,2}(:${H}){1,5}`,
  `${H}:(:${H}){1,6}`,
  `:((:${H}){1,7}|:)`,
].join("|")})`;

const sourceIp = () =>
  text()
    .transform((s, ctx) => {
      const r = parseSourceIp(s);
      if (!r.ok) ctx.addIssue({ code: "custom", message: r.message });
      return r.ok ? r.value : s;
    })
    .openapi({
      anyOf: [
        { type: "string", format: "ipv4" },
        { type: "string", format: "ipv6" },
        { type: "string", pattern: `^${IPV4}/(3[0-2]|[12]?[0-9])$` },
        { type: "string", pattern: `^${IPV6}/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$` },
      ],
      description: "An IPv4/IPv6 address, or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`).",
    });

const q = () =>
  text()
    .refine((s) => s.length <= 512, "must be at most 512 characters")
    .openapi({
      ...NOT_BLANK,
      maxLength: 512,
      description:
        "Free text over path, identity, user agent, error code and context values. Words are split on anything but letters and digits and must all occur (AND).",
    });

/** The filter parameters' schemas, by name (each optional unless a route requires it). */
export function filterFields(now: () => Date, form: Form = "query") {
  return {
    from: instant(now, "now-7d").openapi({
      description: `Inclusive lower bound. ${INSTANT} ${RESOLVED[form]}`,
    }),
    to: instant(now, "now").openapi({
      description: `Exclusive upper bound; must be after from. ${INSTANT} ${RESOLVED[form]}`,
    }),
    action: actions(form),
    identity_id: text().openapi({
      ...NOT_BLANK,
      description: "Exact identity id, e.g. `user:person@acme.example`.",
    }),
    identity_type: identityType(),
    path_prefix: pathPrefix(),
    success: success(form),
    source_ip: sourceIp(),
    request_id: text().openapi(NOT_BLANK),
    q: q(),
  };
}

/**
 * `limit` and `cursor`. `issued` checks a cursor's signature with the service's key, so a forged
 * one is named with every other bad parameter; whose it is and where it came from are checked
 * when it is read (http/paging).
 */
export function pageFields(issued: (cursor: string) => boolean = () => true) {
  return {
    limit: text()
      .refine(
        (s) => /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= MAX_LIMIT,
        `must be a whole number from 1 to ${MAX_LIMIT}`,
      )
      .transform(Number)
      .optional()
      .openapi({
        type: "integer",
        minimum: 1,
        maximum: MAX_LIMIT,
        description: `1–${MAX_LIMIT}, default ${DEFAULT_LIMIT}.`,
      }),
    cursor: text()
      .refine((s) => s.length <= MAX_CURSOR_CHARS && issued(s), "is not a cursor this service issued")
      .optional()
      .openapi({
        type: "string",
        minLength: 1,
        maxLength: MAX_CURSOR_CHARS,
        description:
          "The next_cursor of the previous page. Bound to the tenant, the endpoint and the filters (send the same filters; limit may change). Stable while new events arrive.",
      }),
  };
}

type Shape = Record<string, z.ZodType>;

/**
 * A query-string schema: the filters `allowed` (all by default), `limit`/`cursor` when `paging`,
 * and the endpoint's own parameters. Strict: an unknown parameter is an error naming it.
 * A reversed window is an error naming `from`.
 */
export function filterQuery<E extends Shape = Record<never, never>>(opts: {
  now: () => Date;
  allowed?: readonly FilterParam[];
  /** Filters this endpoint cannot do without (the anomalies' window). */
  required?: readonly FilterParam[];
  /** `limit` and `cursor`, with the check that a cursor is the service's own. */
  paging?: boolean | { issued: (cursor: string) => boolean };
  extra?: E;
}) {
  const fields = filterFields(opts.now);
  const allowed = opts.allowed ?? FILTER_PARAMS;
  const picked = Object.fromEntries(
    allowed.map((k) => [k, opts.required?.includes(k) ? fields[k] : fields[k].optional()]),
  ) as unknown as Record<FilterParam, z.ZodType>;
  const paging = opts.paging
    ? pageFields(typeof opts.paging === "object" ? opts.paging.issued : undefined)
    : {};
  const shape = { ...picked, ...paging, ...(opts.extra ?? ({} as E)) };
  return z.strictObject(shape).superRefine((v, ctx) => windowIssue(v as RawFilters, opts.now, ctx));
}

/** A reversed window is an error naming `from`. */
function windowIssue(v: RawFilters, now: () => Date, ctx: z.RefinementCtx): void {
  if (!v.from || !v.to) return;
  const at = now();
  const from = parseInstant(v.from, at);
  const to = parseInstant(v.to, at);
  if (from.ok && to.ok && from.value >= to.value)
    ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
}

/** The JSON form (an export's `filters`): the same parameters, plus `path` for one secret's exact path. */
export function filterJson(now: () => Date) {
  const fields = filterFields(now, "json");
  return z
    .strictObject({
      ...(Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.optional()])) as {
        [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K]>;
      }),
      path: text()
        .refine((p) => !p.startsWith("/"), "must be a secret path without a leading '/'")
        .optional()
        .openapi({
          type: "string",
          minLength: 1,
          pattern: NOT_A_LEADING_SLASH,
          description: "One secret's exact path.",
        }),
    })
    .superRefine((v, ctx) => windowIssue(v as RawFilters, now, ctx));
}

/** Filters as validated, before relative times are resolved. */
export interface RawFilters {
  from?: string;
  to?: string;
  action?: Action[];
  identity_id?: string;
  identity_type?: IdentityType;
  path?: string;
  path_prefix?: string;
  success?: boolean;
  source_ip?: string;
  request_id?: string;
  q?: string;
}

/**
 * Validated filters → `Filters` (relative times resolved against `now`), and the hash of the
 * filters as written (relative times unresolved, actions sorted, trailing `/` dropped): what a
 * cursor is bound to. `fixed` are filters from the path (a trail's path or identity); `extra`
 * values count in the hash too.
 */
export function resolve(
  raw: RawFilters,
  now: Date,
  opts: { fixed?: Filters; extra?: Record<string, unknown> } = {},
): { filters: Filters; hash: string } {
  const filters: Filters = { ...opts.fixed };
  const asWritten: Record<string, unknown> = { ...opts.fixed };
  for (const key of ["from", "to"] as const) {
    const v = raw[key];
    if (v === undefined) continue;
    const t = parseInstant(v, now);
    if (!t.ok) throw new InvalidInput("the filters are invalid", [{ field: key, message: t.message }]);
    filters[key] = t.value;
    asWritten[key] = t.relative ? v : t.value;
  }
  const set = <K extends keyof Filters>(key: K, value: Filters[K] | undefined) => {
    if (value === undefined) return;
    filters[key] = value;
    asWritten[key] = value;
  };
  set("actions", raw.action);
  set("identityId", raw.identity_id);
  set("identityType", raw.identity_type);
  set("path", raw.path);
  set("pathPrefix", raw.path_prefix);
  set("success", raw.success);
  set("sourceIp", raw.source_ip);
  set("requestId", raw.request_id);
  set("q", raw.q);
  for (const [name, value] of Object.entries(opts.extra ?? {}))
    if (value !== undefined) asWritten[`extra.${name}`] = value;
  return { filters, hash: filterHash(asWritten) };
}

/** Filters in their stored JSON form (an export job's), relative times already resolved. */
export function toStored(f: Filters): RawFilters {
  const out: RawFilters = {};
  if (f.from) out.from = f.from;
  if (f.to) out.to = f.to;
  if (f.actions) out.action = f.actions;
  if (f.identityId !== undefined) out.identity_id = f.identityId;
  if (f.identityType) out.identity_type = f.identityType;
  if (f.path !== undefined) out.path = f.path;
  if (f.pathPrefix !== undefined) out.path_prefix = f.pathPrefix;
  if (f.success !== undefined) out.success = f.success;
  if (f.sourceIp !== undefined) out.source_ip = f.sourceIp;
  if (f.requestId !== undefined) out.request_id = f.requestId;
  if (f.q !== undefined) out.q = f.q;
  return out;
}

// ---- Parsing outside a route (tests, benches, stored filters) -------------------------------

/** zod issues → the fields a 400 names: an unknown key by its own name. */
export function issuesToFields(
  issues: readonly {
    code: string;
    path: readonly PropertyKey[];
    message: string;
    keys?: readonly string[];
  }[],
  unknown = "is not a parameter of this endpoint",
): FieldError[] {
  return issues.flatMap((i) =>
    i.code === "unrecognized_keys"
      ? (i.keys ?? []).map((k) => ({ field: [...i.path.map(String), k].join("."), message: unknown }))
      : [{ field: i.path.map(String).join(".") || "query", message: i.message }],
  );
}

/** A query string as a route receives it: one value per name, a list for a repeated one. */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = all.length === 1 ? (all[0] as string) : all;
  }
  return out;
}

/**
 * Validates and resolves a query string the way a route does (for code without a route: tests,
 * benches). Throws InvalidInput naming every bad parameter.
 */
export function parseQuery(
  params: URLSearchParams,
  opts: { allowed?: readonly FilterParam[]; now: Date; paging?: boolean; fixed?: Filters },
): { filters: Filters; hash: string; limit: number; cursor: string | undefined } {
  const schema = filterQuery({
    now: () => opts.now,
    ...(opts.allowed ? { allowed: opts.allowed } : {}),
    paging: opts.paging ?? true,
  });
  const parsed = schema.safeParse(queryObject(params));
  if (!parsed.success)
    throw new InvalidInput("the query parameters are invalid", issuesToFields(parsed.error.issues));
  const v = parsed.data as RawFilters & { limit?: number; cursor?: string };
  return {
    ...resolve(v, opts.now, opts.fixed ? { fixed: opts.fixed } : {}),
    limit: v.limit ?? DEFAULT_LIMIT,
    cursor: v.cursor,
  };
}
