/**
 * @module formats/classify
 * What the SIEM formats (OCSF, CEF) say alike about an audit event: its product identity, a
 * human-readable name per action, the kind of resource its path names, its severity and its instant
 * in epoch milliseconds. Pure; shared by every feature that formats events for other systems.
 *
 * Events reach the formatters from stored documents too (events/event.mapping readDocument), which
 * may hold an action, identity type or timestamp no ingest would accept: every function here answers
 * something sensible for those as well, and never throws.
 */
import type { Action, AuditEvent } from "../events/event.schema.ts";

export const PRODUCT = { vendor: "ScaiVault", name: "Audit Log" } as const;
/** The service's version, as the OpenAPI document states it (app.ts); callers may pass their own. */
export const PRODUCT_VERSION = "0.1.0";

/** What every formatter may be told besides the event and its tenant. */
export interface FormatOptions {
  /** The product version stated in the output (default PRODUCT_VERSION). */
  productVersion?: string;
  /** When the service stored the event (`event.ingested`, RFC 3339), when known. */
  ingested?: string | null;
}

/** The action in words, for CEF's Name and OCSF's message: fixed text, never event data. */
export const ACTION_NAMES: Record<Action, string> = {
  read: "Secret read",
  write: "Secret written",
  delete: "Secret deleted",
  list: "Secrets listed",
  rotate: "Secret rotated",
  policy_create: "Policy created",
  policy_update: "Policy updated",
  policy_delete: "Policy deleted",
  policy_bind: "Policy bound",
  policy_unbind: "Policy unbound",
  pki_issue: "Certificate issued",
  pki_revoke: "Certificate revoked",
  dynamic_generate: "Dynamic credentials generated",
  dynamic_revoke: "Dynamic credentials revoked",
};

export const isAction = (a: string): a is Action => Object.hasOwn(ACTION_NAMES, a);

export const actionName = (a: string): string => (isAction(a) ? ACTION_NAMES[a] : "Audit event");

/** The family of an action: which kind of thing its `path` names. */
export type ActionFamily = "secret" | "policy" | "pki" | "dynamic" | "unknown";

export function familyOf(a: string): ActionFamily {
  if (!isAction(a)) return "unknown";
  if (a.startsWith("policy_")) return "policy";
  if (a.startsWith("pki_")) return "pki";
  if (a.startsWith("dynamic_")) return "dynamic";
  return "secret";
}

/** What the path names, in words (OCSF resources[].type / entity.type). */
export function resourceType(a: string): string {
  if (a === "list") return "Secret Folder";
  switch (familyOf(a)) {
    case "secret":
      return "Secret";
    case "policy":
      return "Policy";
    case "pki":
      return "PKI Role";
    case "dynamic":
      return "Dynamic Secret Role";
    default:
      return "Unknown";
  }
}

/**
 * Severity, one scale for both formats (OCSF severity_id; CEF Severity 0–10 via CEF_SEVERITY):
 * what the action does sets a base, and a failure raises it one step (a refused policy change or
 * delete is what an attacker probing for privileges leaves behind).
 *
 * | base          | actions                                                             |
 * | Informational | read, list, pki_issue, dynamic_generate (routine, high-volume)      |
 * | Low           | write, rotate, pki_revoke, dynamic_revoke (changes a credential)    |
 * | Medium        | delete, every policy_* (loses data or changes who may do what)      |
 *
 * Failure: Informational → Low, Low → Medium, Medium → High. An unknown action counts as Medium.
 */
export type Severity = 1 | 2 | 3 | 4;
export const SEVERITY_NAMES: Record<Severity, string> = {
  1: "Informational",
  2: "Low",
  3: "Medium",
  4: "High",
};
/** CEF Severity (0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High) for each step. */
export const CEF_SEVERITY: Record<Severity, number> = { 1: 1, 2: 3, 3: 5, 4: 7 };

const BASE_SEVERITY: Record<Action, Severity> = {
  read: 1,
  list: 1,
  pki_issue: 1,
  dynamic_generate: 1,
  write: 2,
  rotate: 2,
  pki_revoke: 2,
  dynamic_revoke: 2,
  delete: 3,
  policy_create: 3,
  policy_update: 3,
  policy_delete: 3,
  policy_bind: 3,
  policy_unbind: 3,
};

export function severityOf(e: Pick<AuditEvent, "action" | "success">): Severity {
  const base = isAction(e.action) ? BASE_SEVERITY[e.action] : 3;
  return e.success ? base : (Math.min(base + 1, 4) as Severity);
}

/** The identity's id within its type: `user:person@acme.example` → `person@acme.example`. */
export function identityName(identity: Pick<AuditEvent["identity"], "id" | "type">): string {
  const prefix = `${identity.type}:`;
  return identity.id.startsWith(prefix) && identity.id.length > prefix.length
    ? identity.id.slice(prefix.length)
    : identity.id;
}

const CANONICAL = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{3})\d{3}Z$/;

/**
 * An instant (the API form, `…SS.ffffffZ`, or any text Date.parse reads) → whole epoch
 * milliseconds, rounded down (the microseconds stay in the text); null when it is no instant.
 */
export function epochMillis(timestamp: string | null | undefined): number | null {
  if (typeof timestamp !== "string") return null;
  const m = CANONICAL.exec(timestamp);
  const ms = m ? Date.parse(`${m[1]}.${m[2]}Z`) : Date.parse(timestamp);
  return Number.isFinite(ms) ? ms : null;
}
