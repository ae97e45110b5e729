/**
 * @module features/query/params
 * Query parameters → validated filters (pure; the clock is passed in). Every problem is collected
 * and reported at once, each naming its parameter; an unknown parameter is an error too.
 */
import { BlockList, isIP } from "node:net";
import { ACTIONS, type Action, IDENTITY_TYPES, type IdentityType } from "../../events/event.schema.ts";
import { parseInstant } from "../../events/time.ts";
import { filterHash } from "../../http/cursor.ts";
import { type FieldError, ProblemError } from "../../http/problem.ts";

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
  /** Exact path (the secret trail). */
  path?: string;
  pathPrefix?: string;
  success?: boolean;
  sourceIp?: string;
  requestId?: string;
  q?: string;
}

/** An endpoint's own parameter: validates the raw value into a value or an error message. */
export type ExtraParam = (raw: string) => { ok: true; value: unknown } | { ok: false; message: string };

export interface ParsedQuery {
  filters: Filters;
  /** Values of the endpoint's own parameters (see `extra`), by name, when given. */
  extra: Record<string, unknown>;
  /** Hash of the filters as the client wrote them (relative times unresolved): what a cursor is bound to. */
  hash: string;
  limit: number;
  cursor: string | undefined;
}

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

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

/**
 * Reads and validates `params`. `allowed` are the filter parameters this endpoint takes (plus
 * `limit` and `cursor`); `fixed` are filters that come from the path (a trail's path or identity).
 */
export function parseQuery(
  params: URLSearchParams,
  opts: {
    allowed: readonly FilterParam[];
    fixed?: Filters;
    now: Date;
    /** Endpoint-specific parameters; they count in the cursor's filter hash. */
    extra?: Record<string, ExtraParam>;
    /** Whether `limit` and `cursor` are taken (default true). */
    paging?: boolean;
  },
): ParsedQuery {
  const errors: FieldError[] = [];
  const paging = opts.paging ?? true;
  const known = new Set<string>([
    ...opts.allowed,
    ...Object.keys(opts.extra ?? {}),
    ...(paging ? ["limit", "cursor"] : []),
  ]);
  for (const key of new Set(params.keys())) {
    if (!known.has(key)) errors.push({ field: key, message: "is not a parameter of this endpoint" });
    else if (key !== "action" && params.getAll(key).length > 1)
      errors.push({ field: key, message: "is given more than once" });
  }
  const one = (key: string): string | undefined => {
    const v = params.get(key);
    if (v === null || !known.has(key)) return undefined;
    if (v.trim() === "") {
      errors.push({ field: key, message: "must not be empty" });
      return undefined;
    }
    return v;
  };

  const filters: Filters = { ...opts.fixed };
  const asWritten: Record<string, unknown> = { ...opts.fixed };

  for (const key of ["from", "to"] as const) {
    const raw = one(key);
    if (raw === undefined) continue;
    const t = parseInstant(raw, opts.now);
    if (!t.ok) errors.push({ field: key, message: t.message });
    else {
      filters[key] = t.value;
      asWritten[key] = t.relative ? raw : t.value;
    }
  }
  if (filters.from && filters.to && filters.from >= filters.to) {
    errors.push({ field: "from", message: "must be before to" });
  }

  const actions = params
    .getAll("action")
    .flatMap((v) => v.split(","))
    .map((a) => a.trim());
  if (actions.length > 0 && known.has("action")) {
    const bad = actions.filter((a) => !(ACTIONS as readonly string[]).includes(a));
    if (bad.length > 0)
      errors.push({
        field: "action",
        message: `unknown action(s) ${bad.map((b) => `'${b}'`).join(", ")}; one of ${ACTIONS.join(", ")}`,
      });
    else asWritten.actions = filters.actions = [...new Set(actions as Action[])].sort();
  }

  const identityId = one("identity_id");
  if (identityId !== undefined) asWritten.identityId = filters.identityId = identityId;
  const identityType = one("identity_type");
  if (identityType !== undefined) {
    if (!(IDENTITY_TYPES as readonly string[]).includes(identityType)) {
      errors.push({ field: "identity_type", message: `must be one of ${IDENTITY_TYPES.join(", ")}` });
    } else asWritten.identityType = filters.identityType = identityType as IdentityType;
  }

  const prefix = one("path_prefix");
  if (prefix !== undefined) {
    const p = prefix.replace(/\/+$/, "");
    if (p.startsWith("/")) errors.push({ field: "path_prefix", message: "paths have no leading '/'" });
    else if (p === "") errors.push({ field: "path_prefix", message: "must name at least one path segment" });
    else asWritten.pathPrefix = filters.pathPrefix = p;
  }

  const success = one("success");
  if (success !== undefined) {
    if (success !== "true" && success !== "false")
      errors.push({ field: "success", message: "must be true or false" });
    else asWritten.success = filters.success = success === "true";
  }

  const ip = one("source_ip");
  if (ip !== undefined) {
    const parsed = parseSourceIp(ip);
    if (!parsed.ok) errors.push({ field: "source_ip", message: parsed.message });
    else asWritten.sourceIp = filters.sourceIp = parsed.value;
  }

  const requestId = one("request_id");
  if (requestId !== undefined) asWritten.requestId = filters.requestId = requestId;

  const q = one("q");
  if (q !== undefined) {
    if (q.length > 512) errors.push({ field: "q", message: "must be at most 512 characters" });
    else asWritten.q = filters.q = q;
  }

  let limit = DEFAULT_LIMIT;
  const rawLimit = one("limit");
  if (rawLimit !== undefined) {
    const n = Number(rawLimit);
    if (!/^\d+$/.test(rawLimit) || n < 1 || n > MAX_LIMIT)
      errors.push({ field: "limit", message: `must be a whole number from 1 to ${MAX_LIMIT}` });
    else limit = n;
  }

  const extra: Record<string, unknown> = {};
  for (const [name, check] of Object.entries(opts.extra ?? {})) {
    const raw = one(name);
    if (raw === undefined) continue;
    const r = check(raw);
    if (!r.ok) errors.push({ field: name, message: r.message });
    else asWritten[`extra.${name}`] = extra[name] = r.value;
  }

  const cursor = one("cursor");
  if (errors.length > 0) throw new ProblemError(400, "the query parameters are invalid", { errors });
  return { filters, extra, hash: filterHash(asWritten), limit, cursor };
}
