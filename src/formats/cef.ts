/**
 * @module formats/cef
 * The audit event (API form) → one ArcSight CEF:0 line (no line end; the transport adds its own
 * framing, e.g. a syslog header). Pure.
 *
 *   CEF:0|ScaiVault|Audit Log|<version>|<action>|<Name>|<Severity>|<extension>
 *
 * Escaping follows the ArcSight CEF Implementation Standard:
 * - header fields: `\` → `\\` and `|` → `\|`; a header may not span lines, so every control,
 *   format and line/paragraph separator character is replaced by a space (header values are our
 *   own constants and the action, but a stored document's action can be anything);
 * - extension values: `\` → `\\`, `=` → `\=`, CR → `\r`, LF → `\n` (the spec's escapes); the other
 *   line breaks (U+2028, U+2029, NEL, VT, FF) → `\n` too, and any other control character (tab
 *   included) → a space, or U+FFFD for a terminal control. A raw line end, a raw `=` (which would
 *   start a fake key) or an unescaped `\` can therefore never reach the output: an event cannot
 *   add a line, a header field or an extension key. `|` needs no escape in the extension.
 * - extension keys are ours, fixed ASCII; the context (cs6) is JSON whose controls and line
 *   separators are JSON `\uXXXX` escapes, so it reads back exactly.
 * Each value is cut (on a code point, with a trailing `…`) to the length the CEF dictionary gives
 * its key, so one long context cannot make the line unboundedly long; ids are never cut (an event
 * id may exceed externalId's nominal 40 characters: a cut id would not match the event).
 *
 * Severity (0–10) is classify's scale: Informational 1, Low 3, Medium 5, High 7.
 */
import { isIP } from "node:net";
import type { AuditEvent } from "../events/event.schema.ts";
import {
  actionName,
  CEF_SEVERITY,
  epochMillis,
  type FormatOptions,
  familyOf,
  identityName,
  PRODUCT,
  PRODUCT_VERSION,
  severityOf,
} from "./classify.ts";

/** Anything that may not stand in a header: controls, format characters, line and paragraph separators. */
const NOT_IN_HEADER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function escapeHeader(value: string): string {
  return value.replace(NOT_IN_HEADER, " ").replace(/[\\|]/g, (c) => `\\${c}`);
}

/** Line breaks by Unicode's definition other than CR and LF: written as `\n`. */
const OTHER_LINE_BREAKS = new Set(["\u000B", "\u000C", "\u0085", "\u2028", "\u2029"]);
const EXTENSION_SPECIAL = /[\\=\r\n\p{Cc}\u2028\u2029]/gu;

function escapeExtension(value: string): string {
  return value.replace(EXTENSION_SPECIAL, (c) => {
    if (c === "\\" || c === "=") return `\\${c}`;
    if (c === "\r") return "\\r";
    if (c === "\n" || OTHER_LINE_BREAKS.has(c)) return "\\n";
    return c === "\t" ? " " : "\uFFFD";
  });
}

/** At most `max` code points, the last one `…` when cut. */
export function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  const points = Array.from(value);
  return points.length <= max ? value : `${points.slice(0, max - 1).join("")}…`;
}

/**
 * The context as JSON, with every character the extension escaping would replace written as a JSON
 * `\\uXXXX` escape instead (JSON.stringify leaves DEL, C1 controls, U+2028 and U+2029 raw): outside
 * strings such JSON holds none of them, so this is lossless and cs6 parses back to the same object.
 */
export function contextJson(context: Record<string, unknown>): string {
  return JSON.stringify(context).replace(
    /[\p{Cc}\u2028\u2029]/gu,
    (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, "0")}`,
  );
}

/** CEF dictionary lengths of the keys written here (0: not cut). */
const MAX_LENGTH: Record<string, number> = {
  rt: 0,
  externalId: 0,
  act: 63,
  outcome: 63,
  cat: 1023,
  suid: 1023,
  suser: 1023,
  src: 0,
  c6a2: 0,
  c6a2Label: 1023,
  requestClientApplication: 1023,
  requestMethod: 1023,
  cs1: 4000,
  cs2: 4000,
  cs3: 4000,
  cs4: 4000,
  cs5: 4000,
  cs6: 4000,
  cs1Label: 1023,
  cs2Label: 1023,
  cs3Label: 1023,
  cs4Label: 1023,
  cs5Label: 1023,
  cs6Label: 1023,
  cn1: 0,
  cn1Label: 1023,
  cfp1: 0,
  cfp1Label: 1023,
  flexString1: 1023,
  flexString1Label: 128,
};

/** The custom fields and their labels (csN, cnN, cfpN, flexString1). */
const CEF_LABELS = {
  cs1: "Resource Path",
  cs2: "Tenant",
  cs3: "Session ID",
  cs4: "Request ID",
  cs5: "Error Code",
  cs6: "Context",
  cn1: "HTTP Status",
  cfp1: "Duration ms",
  flexString1: "Event Timestamp",
  c6a2: "Source IPv6 Address",
} as const;

const CATEGORIES = { secret: "secret", policy: "policy", pki: "pki", dynamic: "dynamic", unknown: "unknown" };

export function toCef(event: AuditEvent, tenant: string, options: FormatOptions = {}): string {
  const severity = CEF_SEVERITY[severityOf(event)];
  const header = [
    "CEF:0",
    escapeHeader(PRODUCT.vendor),
    escapeHeader(PRODUCT.name),
    escapeHeader(options.productVersion ?? PRODUCT_VERSION),
    escapeHeader(event.action || "unknown"),
    escapeHeader(actionName(event.action)),
    String(severity),
  ];

  const ext: [string, string | number | null | undefined][] = [];
  const custom = (key: keyof typeof CEF_LABELS, value: string | number | null | undefined) => {
    if (value === null || value === undefined || value === "") return;
    ext.push([key, value], [`${key}Label`, CEF_LABELS[key]]);
  };

  ext.push(["rt", epochMillis(event.timestamp)]);
  ext.push(["externalId", event.id]);
  ext.push(["act", event.action]);
  ext.push(["outcome", event.success ? "success" : "failure"]);
  ext.push(["cat", CATEGORIES[familyOf(event.action)]]);
  ext.push(["suid", event.identity.id]);
  ext.push(["suser", identityName(event.identity)]);
  const ip = event.source_ip ?? "";
  if (isIP(ip) === 4) ext.push(["src", ip]);
  else if (isIP(ip) === 6) custom("c6a2", ip);
  ext.push(["requestClientApplication", event.user_agent]);
  ext.push(["requestMethod", event.request.method]);
  custom("cs1", event.path);
  custom("cs2", tenant);
  custom("cs3", event.identity.session_id);
  custom("cs4", event.request.id);
  custom("cs5", event.error_code);
  if (event.context && Object.keys(event.context).length > 0) custom("cs6", contextJson(event.context));
  if (typeof event.request.status === "number" && Number.isInteger(event.request.status))
    custom("cn1", event.request.status);
  if (typeof event.request.duration_ms === "number" && Number.isFinite(event.request.duration_ms))
    custom("cfp1", event.request.duration_ms);
  custom("flexString1", event.timestamp);

  const extension = ext
    .filter((kv): kv is [string, string | number] => kv[1] !== null && kv[1] !== undefined && kv[1] !== "")
    .map(([key, value]) => {
      const max = MAX_LENGTH[key] ?? 1023;
      const text = typeof value === "number" ? String(value) : value;
      return `${key}=${escapeExtension(max > 0 ? cut(text, max) : text)}`;
    })
    .join(" ");
  return `${header.join("|")}|${extension}`;
}
