/**
 * @module events/time
 * Timestamps as the API speaks them: RFC 3339 in UTC with exactly six fractional digits. Parsing
 * is string arithmetic on whole seconds plus the fraction kept as digits, so microseconds are never
 * rounded through a JavaScript number.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** date_nanos covers 1970-01-01 to 2262-04-11; keep a margin at the top. */
const MIN_YEAR = 1970;
const MAX_YEAR = 2261;

export type TimeParse = { ok: true; value: string } | { ok: false; message: string };

/**
 * Parses an RFC 3339 timestamp with any offset and at most six fractional digits, and returns
 * it canonical: UTC, `Z`, exactly six fractional digits.
 */
export function parseTimestamp(input: string): TimeParse {
  const m = RFC3339.exec(input);
  if (!m) return { ok: false, message: "must be an RFC 3339 timestamp such as 2026-11-26T14:30:05.123456Z" };
  const [, y, mo, d, h, mi, s, frac = "", off = "Z"] = m;
  if (frac.length > 6)
    return { ok: false, message: "must have at most six fractional digits (microseconds)" };
  const year = Number(y);
  const month = Number(mo);
  // Date.UTC reads years 0–99 as 1900–1999: refuse far-off years first (an offset moves a day at most).
  if (year < MIN_YEAR - 1 || year > MAX_YEAR + 1) return outOfRange;
  // A real calendar date: 2026-02-30 is refused, 2028-02-29 is not (Date.UTC's day 0 is the
  // previous month's last day).
  if (
    month < 1 ||
    month > 12 ||
    Number(d) < 1 ||
    Number(d) > new Date(Date.UTC(year, month, 0)).getUTCDate() ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    return { ok: false, message: "is not a valid calendar date and time" };
  }
  const micros = frac.padEnd(6, "0");
  if (off === "Z" || off === "z") {
    // Already UTC (what clients nearly always send): the canonical form is the fields as given.
    if (year < MIN_YEAR || year > MAX_YEAR) return outOfRange;
    return { ok: true, value: `${y}-${mo}-${d}T${h}:${mi}:${s}.${micros}Z` };
  }
  const sign = off.startsWith("-") ? -1 : 1;
  const oh = Number(off.slice(1, 3));
  const om = Number(off.slice(4, 6));
  if (oh > 23 || om > 59) return { ok: false, message: "has an invalid UTC offset" };
  const epochMs =
    Date.UTC(year, month - 1, Number(d), Number(h), Number(mi), Number(s)) - sign * (oh * 60 + om) * 60_000;
  const utcYear = new Date(epochMs).getUTCFullYear();
  if (utcYear < MIN_YEAR || utcYear > MAX_YEAR) return outOfRange;
  return { ok: true, value: formatTimestamp(epochMs, micros) };
}

const outOfRange: TimeParse = { ok: false, message: `must lie between ${MIN_YEAR} and ${MAX_YEAR}` };

/** `epochMs` (whole seconds matter) + six fractional digits → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function formatTimestamp(epochMs: number, micros: string): string {
  const seconds = new Date(Math.floor(epochMs / 1000) * 1000).toISOString().slice(0, 19);
  return `${seconds}.${micros}Z`;
}

/** A Date (millisecond precision) in the API form. */
export function isoMicros(date: Date): string {
  return formatTimestamp(
    date.getTime(),
    String(date.getTime() % 1000)
      .padStart(3, "0")
      .concat("000"),
  );
}

const RELATIVE = /^now(?:([+-])(\d{1,6})([smhdw]))?$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

export type InstantParse = { ok: true; value: string; relative: boolean } | { ok: false; message: string };

/**
 * A query instant: RFC 3339 with any offset, a date alone (midnight UTC), or relative to `now`
 * (`now`, `now-15m`, `now-7d`; units s, m, h, d, w). Returns the canonical UTC form.
 */
export function parseInstant(input: string, now: Date): InstantParse {
  const rel = RELATIVE.exec(input);
  if (rel) {
    const [, sign, amount, unit] = rel;
    const delta = sign ? Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS] * (sign === "-" ? -1 : 1) : 0;
    const at = new Date(now.getTime() + delta);
    // The same bounds as an absolute instant: beyond them OpenSearch cannot compare (date_nanos).
    const year = at.getUTCFullYear();
    if (!(year >= MIN_YEAR)) return { ok: false, message: `lies before ${MIN_YEAR}` };
    if (year > MAX_YEAR) return { ok: false, message: `lies after ${MAX_YEAR}` };
    return { ok: true, value: isoMicros(at), relative: true };
  }
  // An unencoded '+' in a query string arrives as a space: `…T15:00:00 01:00` meant `+01:00`.
  const fixed = input.replace(/(\d) (\d{2}:\d{2})$/, "$1+$2");
  const t = parseTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(fixed) ? `${fixed}T00:00:00Z` : fixed);

  if (!t.ok) {
    return {
      ok: false,
      message: `${t.message.replace(/^must be an RFC 3339 timestamp/, "must be an ISO 8601 instant")}, or relative: now, now-15m, now-7d (units s, m, h, d, w)`,
    };
  }
  return { ok: true, value: t.value, relative: false };
}
