/**
 * @module http/cursor
 * Opaque, signed page cursors: base64url(JSON payload) + "." + base64url(HMAC-SHA256). A cursor is
 * bound to the tenant, to the endpoint that issued it and to a hash of the filters it was made
 * with, so it cannot be forged, replayed by another tenant, used on another endpoint (whose
 * positions mean something else) or reused with other filters.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export interface CursorPayload<P> {
  /** Tenant the cursor was issued to. */
  t: string;
  /** The endpoint (route pattern) that issued it. */
  e: string;
  /** Hash of the normalized filter set. */
  h: string;
  /** Position and whatever the feature needs to continue (e.g. the resolved time window). */
  p: P;
}

/** What a cursor is bound to. */
export interface CursorBinding {
  tenant: string;
  /** The issuing route's pattern, e.g. `/v1/audit/identities/:identity_id/paths`. */
  endpoint: string;
  /** `filterHash` of the filters as written. */
  filters: string;
}

export type CursorCheck<P> = { ok: true; position: P } | { ok: false; message: string };

export class Cursors {
  readonly #key: Buffer;
  constructor(key: string | Buffer) {
    this.#key = Buffer.isBuffer(key) ? key : Buffer.from(key);
  }

  #sign(data: string): Buffer {
    return createHmac("sha256", this.#key).update(data).digest();
  }

  encode<P>(bind: CursorBinding, position: P): string {
    const payload: CursorPayload<P> = { t: bind.tenant, e: bind.endpoint, h: bind.filters, p: position };
    const data = Buffer.from(JSON.stringify(payload)).toString("base64url");
    return `${data}.${this.#sign(data).toString("base64url")}`;
  }

  /** Whether this service issued `cursor` (format and signature; not yet whose or where). */
  issued(cursor: string): boolean {
    const [data, sig, extra] = cursor.split(".");
    if (!data || !sig || extra !== undefined) return false;
    const expected = this.#sign(data);
    const given = Buffer.from(sig, "base64url");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  decode<P>(cursor: string, bind: CursorBinding): CursorCheck<P> {
    if (!this.issued(cursor)) return { ok: false, message: "is not a cursor this service issued" };
    const data = cursor.split(".")[0] as string;
    let payload: CursorPayload<P>;
    try {
      payload = JSON.parse(Buffer.from(data, "base64url").toString("utf8")) as CursorPayload<P>;
    } catch {
      return { ok: false, message: "is not a cursor this service issued" };
    }
    // Same message for another tenant's cursor: do not confirm that it is valid elsewhere.
    if (payload.t !== bind.tenant) return { ok: false, message: "is not a cursor this service issued" };
    if (payload.e !== bind.endpoint)
      return { ok: false, message: "was issued by another endpoint; use it only where it was returned" };
    if (payload.h !== bind.filters)
      return { ok: false, message: "was made with other filters; repeat the first request's filters" };
    return { ok: true, position: payload.p };
  }
}
