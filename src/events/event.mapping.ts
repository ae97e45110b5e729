/**
 * @module events/event.mapping
 * The API form ⇄ the stored document. Documents use ECS-style names so analysts in OpenSearch
 * Dashboards feel at home; product fields live under `scaivault.*`. Both directions are pure.
 */
import type { Action, AuditEvent, IdentityType, IngestEvent } from "./event.schema.ts";
import { redact } from "./redaction.ts";

/** The stored document, as in index-templates/audit-events.json. */
export interface AuditDocument {
  "@timestamp": string;
  event: { id: string; action: Action; outcome: "success" | "failure"; duration?: number; ingested: string };
  user: { id: string };
  scaivault: {
    tenant: string;
    path: string;
    /** Free text for `q`: path, identity, user agent, error code and context values. Not in _source. */
    text?: string;

    identity: { type: IdentityType };
    session?: { id: string };
    context?: Record<string, unknown>;
  };
  source?: { ip: string };
  user_agent?: { original: string };
  http?: { request?: { id?: string; method?: string }; response?: { status_code: number } };
  error?: { code: string };
}

/** A validated, redacted event with its id and canonical timestamp settled. */
export type NormalizedEvent = AuditEvent;

/** Settles a validated event: assigns an id when it has none, fills absent fields with null, redacts context. */
export function normalize(e: IngestEvent, newId: () => string): { event: NormalizedEvent; redacted: number } {
  const context = redact(e.context ?? {});
  return {
    redacted: context.redacted,
    event: {
      id: e.id ?? newId(),
      timestamp: e.timestamp,
      action: e.action,
      path: e.path,
      identity: { id: e.identity.id, type: e.identity.type, session_id: e.identity.session_id ?? null },
      source_ip: e.source_ip ?? null,
      user_agent: e.user_agent ?? null,
      request: {
        id: e.request?.id ?? null,
        method: e.request?.method ?? null,
        status: e.request?.status ?? null,
        duration_ms: e.request?.duration_ms ?? null,
      },
      success: e.success,
      error_code: e.error_code ?? null,
      context: context.value as Record<string, unknown>,
    },
  };
}

/** Milliseconds (up to six decimals) → whole nanoseconds, as ECS `event.duration` wants. */
export const msToNs = (ms: number): number => Math.round(ms * 1e6);
export const nsToMs = (ns: number): number => Number((ns / 1e6).toFixed(6));

export function toDocument(e: NormalizedEvent, tenant: string, ingested: string): AuditDocument {
  const doc: AuditDocument = {
    "@timestamp": e.timestamp,
    event: { id: e.id, action: e.action, outcome: e.success ? "success" : "failure", ingested },
    user: { id: e.identity.id },
    scaivault: { tenant, path: e.path, identity: { type: e.identity.type } },
  };
  if (e.request.duration_ms !== null) doc.event.duration = msToNs(e.request.duration_ms);
  if (e.identity.session_id !== null) doc.scaivault.session = { id: e.identity.session_id };
  if (Object.keys(e.context).length > 0) doc.scaivault.context = e.context;
  if (e.source_ip !== null) doc.source = { ip: e.source_ip };
  if (e.user_agent !== null) doc.user_agent = { original: e.user_agent };
  const request = {
    ...(e.request.id !== null ? { id: e.request.id } : {}),
    ...(e.request.method !== null ? { method: e.request.method } : {}),
  };
  if (Object.keys(request).length > 0 || e.request.status !== null) {
    doc.http = {
      ...(Object.keys(request).length > 0 ? { request } : {}),
      ...(e.request.status !== null ? { response: { status_code: e.request.status } } : {}),
    };
  }
  if (e.error_code !== null) doc.error = { code: e.error_code };
  doc.scaivault.text = searchText(e);
  return doc;
}

/** The leaf values of a context, as text (keys are not searched: `q` is about what happened). */
function leaves(v: unknown, out: string[]): string[] {
  if (v === null || v === undefined) return out;
  if (Array.isArray(v)) for (const x of v) leaves(x, out);
  else if (typeof v === "object") for (const x of Object.values(v)) leaves(x, out);
  else out.push(String(v));
  return out;
}

export function searchText(e: NormalizedEvent): string {
  const parts = [e.path, e.identity.id, e.user_agent, e.error_code, ...leaves(e.context, [])];
  return parts.filter((p) => p !== null && p !== "").join("\n");
}

export function fromDocument(d: AuditDocument): AuditEvent {
  return {
    id: d.event.id,
    timestamp: d["@timestamp"],
    action: d.event.action,
    path: d.scaivault.path,
    identity: { id: d.user.id, type: d.scaivault.identity.type, session_id: d.scaivault.session?.id ?? null },
    source_ip: d.source?.ip ?? null,
    user_agent: d.user_agent?.original ?? null,
    request: {
      id: d.http?.request?.id ?? null,
      method: d.http?.request?.method ?? null,
      status: d.http?.response?.status_code ?? null,
      duration_ms: d.event.duration === undefined ? null : nsToMs(d.event.duration),
    },
    success: d.event.outcome === "success",
    error_code: d.error?.code ?? null,
    context: d.scaivault.context ?? {},
  };
}
