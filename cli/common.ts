/**
 * @module cli/common
 * What the commands share: the client for a command's global options, the /logs filters as flags
 * (their names are the service's own, src/filters FILTER_PARAMS), and paging over next_cursor.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { FILTER_PARAMS, type FilterParam } from "../src/filters/filters.ts";
import { Client, type Query } from "./client.ts";
import { resolveSettings } from "./config.ts";

export function clientOf(cmd: Command): Client {
  const g = cmd.optsWithGlobals<{ url?: string; token?: string; profile?: string }>();
  const s = resolveSettings(g);
  return new Client(s.url, s.token);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Each /logs filter as a flag: `path_prefix` → `--path-prefix`, `q` → `-q, --q`. */
const FLAG: Record<FilterParam, () => Option> = {
  from: () => new Option("--from <instant>", "from (inclusive): ISO 8601, a date, or now-15m, now-7d …"),
  to: () => new Option("--to <instant>", "to (exclusive)"),
  action: () =>
    new Option("--action <action>", "action (repeat, or comma-separated: read,write)").argParser(collect),
  identity_id: () => new Option("--identity-id <id>", "exact identity, e.g. user:ana@acme.example"),
  identity_type: () => new Option("--identity-type <type>", "user, service_account or group"),
  path_prefix: () => new Option("--path-prefix <path>", "paths under this one, on segment boundaries"),
  success: () => new Option("--success <bool>", "true or false"),
  source_ip: () => new Option("--source-ip <ip|cidr>", "an address or a CIDR block"),
  request_id: () => new Option("--request-id <id>", "exact request id"),
  q: () => new Option("-q, --q <text>", "free text over path, identity, user agent, error code, context"),
};

const camel = (p: string) => p.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

export function addFilters(cmd: Command, except: FilterParam[] = []): Command {
  for (const p of FILTER_PARAMS) if (!except.includes(p)) cmd.addOption(FLAG[p]());
  return cmd;
}

/** The filter flags given, as query parameters (values as typed: the service validates them). */
export function filtersOf(opts: Record<string, unknown>, except: FilterParam[] = []): Query {
  const q: Query = {};
  for (const p of FILTER_PARAMS) {
    if (except.includes(p)) continue;
    const v = opts[camel(p)];
    if (v !== undefined) q[p] = v as string | string[];
  }
  return q;
}

/** The same filters as an export's JSON `filters` (action a list, success a boolean). */
export function filtersJson(opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(filtersOf(opts))) {
    if (k === "action") out[k] = (v as string[]).flatMap((a) => a.split(",")).filter(Boolean);
    else if (k === "success" && (v === "true" || v === "false")) out[k] = v === "true";
    else out[k] = v;
  }
  return out;
}

export const positiveInt = (what: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError(`${what} must be a positive whole number`);
  return Number(v);
};

/** --limit, --cursor, --all and --pages on a paged list. */
export function addPaging(cmd: Command): Command {
  return cmd
    .option("--limit <n>", "entries per page (the service's default when absent)")
    .option("--cursor <cursor>", "start at this next_cursor")
    .addOption(new Option("--all", "follow next_cursor to the last page").conflicts("pages"))
    .option("--pages <n>", "follow next_cursor for at most n pages", positiveInt("--pages"));
}

/**
 * Walks the pages of a cursor-paged list: calls `page` for each; stops after one page unless
 * --all/--pages. Prints `next_cursor` on stderr when more pages were left.
 */
export async function eachPage<P extends { next_cursor: string | null }>(
  client: Client,
  path: string,
  query: Query,
  opts: { limit?: string; cursor?: string; all?: boolean; pages?: number },
  page: (p: P, index: number) => void,
): Promise<void> {
  const max = opts.all ? Number.POSITIVE_INFINITY : (opts.pages ?? 1);
  let cursor = opts.cursor;
  for (let i = 0; i < max; i++) {
    const p = await client.get<P>(path, { ...query, limit: opts.limit, cursor });
    page(p, i);
    if (!p.next_cursor) return;
    cursor = p.next_cursor;
  }
  process.stderr.write(`more: --cursor ${cursor}\n`);
}
