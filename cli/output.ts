/**
 * @module cli/output
 * How results are printed: a table (cli-table3) for people, JSON lines or CSV (csv-stringify,
 * the export's own columns and spreadsheet guard) for programs. Lists default to a table when
 * stdout is a terminal and JSON lines otherwise; single objects to a table or indented JSON.
 */

import Table from "cli-table3";
import { Option } from "commander";
import { stringify } from "csv-stringify/sync";
import type { AuditEvent } from "../src/events/event.schema.ts";
import { fileHeader, formatEvents } from "../src/features/exports/exports.format.ts";

export type ListFormat = "table" | "jsonl" | "csv";
export type ObjectFormat = "table" | "json";

export const listOutput = () =>
  new Option(
    "-o, --output <format>",
    "table, jsonl or csv (default: table on a terminal, else jsonl)",
  ).choices(["table", "jsonl", "csv"]);
export const objectOutput = () =>
  new Option("-o, --output <format>", "table or json (default: table on a terminal, else json)").choices([
    "table",
    "json",
  ]);

export const listFormat = (given: string | undefined): ListFormat =>
  (given as ListFormat | undefined) ?? (process.stdout.isTTY ? "table" : "jsonl");
export const objectFormat = (given: string | undefined): ObjectFormat =>
  (given as ObjectFormat | undefined) ?? (process.stdout.isTTY ? "table" : "json");

export const write = (s: string): void => {
  process.stdout.write(s);
};

/** A plain table: no colours, so piped output stays clean. */
export function table(head: string[], rows: (string | number | boolean | null | undefined)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? "" : String(c))));
  return `${t.toString()}\n`;
}

/** Two columns, key and value, for one object. */
export function keyValues(pairs: [string, unknown][]): string {
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of pairs)
    t.push({
      [k]: v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v),
    });
  return `${t.toString()}\n`;
}

export const EVENT_HEAD = ["timestamp", "action", "path", "identity", "source_ip", "success", "status", "id"];
export const eventRow = (e: AuditEvent) => [
  e.timestamp,
  e.action,
  e.path,
  e.identity.id,
  e.source_ip,
  e.success,
  e.request.status,
  e.id,
];

/** Prints events in the chosen format; `first` says whether a CSV header belongs before them. */
export function printEvents(format: ListFormat, events: AuditEvent[], first = true): void {
  if (format === "table") write(table(EVENT_HEAD, events.map(eventRow)));
  else if (format === "csv") write((first ? fileHeader("csv") : "") + formatEvents("csv", events));
  else write(formatEvents("jsonl", events));
}

/** Rows of plain objects as table, JSON lines or CSV (columns = `head`). */
export function printRows(
  format: ListFormat,
  head: string[],
  items: unknown[],
  row: (item: never) => (string | number | boolean | null | undefined)[],
  first = true,
): void {
  const rows = items.map((i) => row(i as never));
  if (format === "table") write(table(head, rows));
  else if (format === "csv")
    write(
      stringify(first ? [head, ...rows] : rows, {
        record_delimiter: "windows",
        cast: { boolean: (b) => String(b) },
      }),
    );
  else for (const i of items) write(`${JSON.stringify(i)}\n`);
}

export const printJson = (v: unknown): void => write(`${JSON.stringify(v, null, 2)}\n`);
