/**
 * @module events/leaf
 * What the tamper-evident log commits to for one event (API.md › Integrity): the RFC 8785
 * canonical JSON of `{"tenant": …, …the event exactly as /logs returns it}`. Anyone holding the
 * event as the API or an export gave it can recompute it, with any RFC 8785 implementation.
 */
import canonicalize from "canonicalize";
import type { AuditEvent } from "./event.schema.ts";

export function leafData(tenant: string, event: AuditEvent): Buffer {
  // The API form is plain JSON (strings, finite numbers, booleans, null, objects, arrays).
  return Buffer.from(canonicalize({ tenant, ...event }) as string, "utf8");
}
