/**
 * @module formats
 * The event formats a SIEM reads — the API's JSON, OCSF 1.8 and CEF — chosen by name: delivery
 * destinations, exports and the live tail all go through here, so one event reads the same
 * wherever it arrives. Pure.
 */
import type { AuditEvent } from "../events/event.schema.ts";
import { toCef } from "./cef.ts";
import { toOcsf } from "./ocsf.ts";

export const FORMATS = ["json", "ocsf", "cef"] as const;
export type Format = (typeof FORMATS)[number];

/** The event in `format`: an object (json, ocsf) or one line (cef). `ingested`: when it was stored. */
export function formatEvent(
  format: Format,
  event: AuditEvent,
  tenant: string,
  ingested: string | null,
): Record<string, unknown> | string {
  if (format === "ocsf") return toOcsf(event, tenant, { ingested });
  if (format === "cef") return toCef(event, tenant, { ingested });
  return { ...event };
}
