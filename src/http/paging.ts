/**
 * @module http/paging
 * Paged, filtered reads: validated filters plus `limit`/`cursor` → the filters to run (on later
 * pages with page one's resolved window), where to continue, and how to make the next cursor. A
 * cursor is bound to the tenant, the endpoint (route pattern) and the filters as written.
 */
import type { Context } from "hono";
import { invalidField } from "../errors.ts";
import { DEFAULT_LIMIT, type Filters, type RawFilters, resolve } from "../filters/filters.ts";
import type { Cursors } from "./cursor.ts";
import type { AppEnv } from "./env.ts";

/** What a cursor carries besides the tenant, endpoint and filter hash: the window resolved on page one. */
interface WindowPosition<A> {
  w: { from?: string; to?: string };
  a: A;
}

export interface Page<A> {
  filters: Filters;
  limit: number;
  after: A | undefined;
  cursorFor: (a: A) => string;
}

export function readPage<A>(
  c: Context<AppEnv>,
  cursors: Cursors,
  now: Date,
  query: RawFilters & { limit?: number; cursor?: string },
  opts: { fixed?: Filters; extra?: Record<string, unknown> } = {},
): Page<A> {
  const resolved = resolve(query, now, opts);
  const bind = { tenant: c.var.principal.tenant, endpoint: c.req.routePath, filters: resolved.hash };
  let filters = resolved.filters;
  let after: A | undefined;
  if (query.cursor !== undefined) {
    const check = cursors.decode<WindowPosition<A>>(query.cursor, bind);
    if (!check.ok) throw invalidField("cursor", check.message, `the cursor ${check.message}`);
    // Relative times were resolved on the first page; later pages keep that window.
    const { from: _f, to: _t, ...rest } = filters;
    filters = { ...rest, ...check.position.w };
    after = check.position.a;
  }
  const w = { ...(filters.from ? { from: filters.from } : {}), ...(filters.to ? { to: filters.to } : {}) };
  return {
    filters,
    limit: query.limit ?? DEFAULT_LIMIT,
    after,
    cursorFor: (a) => cursors.encode<WindowPosition<A>>(bind, { w, a }),
  };
}
