/**
 * @module features/exports/format
 * Events → file bytes. `jsonl`: one event per line in the API form. `ocsf`: one OCSF 1.8 event per line. `csv`: a header row, then the
 * contract's fixed columns, quoted by csv-stringify (RFC 4180, CRLF, every cell in quotes), with
 * the formula-injection guard: a text cell starting with = + - @ tab CR or LF gets a leading ' so
 * a spreadsheet shows it as text instead of running it.
 */
import { stringify } from "csv-stringify/sync";
import type { AuditEvent } from "../../events/event.schema.ts";
import { toOcsf } from "../../formats/ocsf.ts";

export type Format = "jsonl" | "csv" | "ocsf";

export const CSV_COLUMNS = [
  "id",
  "timestamp",
  "action",
  "path",
  "identity_id",
  "identity_type",
  "session_id",
  "source_ip",
  "user_agent",
  "request_id",
  "http_method",
  "http_status",
  "duration_ms",
  "success",
  "error_code",
  "context",
] as const;

/**
 * What a spreadsheet may run: a cell whose first character is = + - @ (or their full-width forms),
 * tab, CR or LF, also after leading spaces, controls or invisible characters it may skip.
 */
const FORMULA_START = /^[\t\r\n]|^[\p{Z}\p{Cc}\p{Cf}]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/u;

export function guardCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** Every text cell is guarded, whatever the column: a stored document need not have come through ingest. */
function csvRow(e: AuditEvent): (string | number | boolean | null)[] {
  const cells = [
    e.id,
    e.timestamp,
    e.action,
    e.path,
    e.identity.id,
    e.identity.type,
    e.identity.session_id,
    e.source_ip,
    e.user_agent,
    e.request.id,
    e.request.method,
    e.request.status,
    e.request.duration_ms,
    e.success,
    e.error_code,
    JSON.stringify(e.context),
  ];
  return cells.map((v) => (typeof v === "string" ? guardCell(v) : v));
}

/**
 * RFC 4180 with CRLF record ends, and every non-empty cell quoted: csv-stringify quotes on its own
 * only a cell holding the record delimiter as a whole (CRLF), so a lone CR or LF would split a row.
 */
const CSV_OPTIONS = {
  record_delimiter: "windows",
  quoted: true,
  cast: { boolean: (b: boolean) => (b ? "true" : "false") },
} as const;

/** The text that opens each file: the CSV header row, or nothing for jsonl. */
export function fileHeader(format: Format): string {
  return format === "csv" ? stringify([[...CSV_COLUMNS]], CSV_OPTIONS) : "";
}

/**
 * A batch of events as file text (a whole page at once: one call per page, not per event). `ocsf`
 * (JSON lines of OCSF 1.8, the mapper delivery uses) needs the tenant, and takes each event's
 * ingest stamp when given.
 */
export function formatEvents(
  format: Format,
  events: AuditEvent[],
  context: { tenant: string; ingested?: (string | null)[] } = { tenant: "" },
): string {
  if (events.length === 0) return "";
  if (format === "csv") return stringify(events.map(csvRow), CSV_OPTIONS);
  let out = "";
  if (format === "ocsf")
    for (const [i, e] of events.entries())
      out += `${JSON.stringify(toOcsf(e, context.tenant, { ingested: context.ingested?.[i] ?? null }))}\n`;
  else for (const e of events) out += `${JSON.stringify(e)}\n`;
  return out;
}

export function fileExtension(format: Format, compression: "none" | "gzip"): string {
  const ext = format === "ocsf" ? "ocsf.jsonl" : format;
  return compression === "gzip" ? `${ext}.gz` : ext;
}

export const CONTENT_TYPES: Record<Format, string> = {
  jsonl: "application/x-ndjson",
  csv: "text/csv; charset=utf-8",
  ocsf: "application/x-ndjson",
};
