/**
 * @module events/event.mapping
 * The API form ⇄ the stored document. Documents use ECS-style names so analysts in OpenSearch
 * Dashboards feel at home; product fields live under `scaivault.*`. Both directions are pure.
 */
import type { Action, AuditEvent, IdentityType, IngestEvent } from "./event.schema.ts";
import { redactKeys } from "./redaction.ts";
import { isoMicros, parseTimestamp } from "./time.ts";

/** The stored document, as in index-templates/audit-events.json. */
export interface AuditDocument {
  "@timestamp": string;
  event: { id: string; action: Action; outcome: "success" | "failure"; duration?: number; ingested: string };
  user: { id: string };
  scaivault: {
    tenant: string;
    path: string;
    /**
     * Free text for `q`: path, identity, user agent, error code and context values. Kept in
     * `_source`: excluding it made OpenSearch store a second, full recovery copy of every document.
     */
    text?: string;

    identity: { type: IdentityType };
    session?: { id: string };
    /** The ingest seal (events/leaf): the service wrote this document. Not indexed. */
    seal?: string;
    context?: Record<string, unknown>;
  };
  source?: { ip: string };
  user_agent?: { original: string };
  http?: { request?: { id?: string; method?: string }; response?: { status_code: number } };
  error?: { code: string };
}

/** A validated, redacted event with its id and canonical timestamp settled. */
export type NormalizedEvent = AuditEvent;

/**
 * Settles a validated event: assigns an id when it has none, fills absent fields with null,
 * redacts context values by key (redaction by value runs over the whole batch: events/secrets).
 */
export function normalize(e: IngestEvent, newId: () => string): { event: NormalizedEvent; redacted: number } {
  const context = redactKeys(e.context ?? {});
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

/** Where a stored event sits in the newest-first order: its `@timestamp` and its id, as stored. */
export type SortKey = [timestamp: string, id: string];

/** A stored document as every reader sees it. */
export interface StoredEvent {
  event: AuditEvent;
  tenant: string | null;
  /** The ingest stamp (`event.ingested`), when the document has one. */
  ingested: string | null;
  sortKey: SortKey;
}

type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Loose) : {};
const text = (v: unknown): string | null =>
  typeof v === "string"
    ? v
    : v === null || v === undefined
      ? null
      : typeof v === "object"
        ? JSON.stringify(v)
        : String(v);
const num = (v: unknown): number | null => {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : null;
};

/** The API form, which ingest always stores: nothing to do for it. */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A stored `@timestamp` in the API form when it can be read as one; otherwise as stored. */
export function timestampOf(v: unknown): string {
  if (typeof v === "string" && CANONICAL.test(v)) return v;
  if (typeof v === "number" && Number.isFinite(v)) return isoMicros(new Date(v)); // epoch millis
  const t = text(v) ?? "";
  const parsed = parseTimestamp(t);
  return parsed.ok ? parsed.value : t;
}

/**
 * Any stored document → the API form, whatever it holds. Documents written by ingest map field by
 * field; one written to the cluster by other means (a missing field, a number where text belongs,
 * an array under a keyword, a context that is not an object, prototype-like keys) is still read —
 * the absent as null, the odd as text — so one document can never fail a page, an export or a
 * live-tail feed that carries other tenants' events.
 */
export function readDocument(source: unknown): StoredEvent {
  const d = obj(source);
  const event = obj(d.event);
  const sv = obj(d.scaivault);
  const http = obj(d.http);
  const request = obj(http.request);
  const duration = num(event.duration);
  const timestamp = timestampOf(d["@timestamp"]);
  const id = text(event.id) ?? "";
  return {
    tenant: text(sv.tenant),
    ingested: text(event.ingested),
    sortKey: [typeof d["@timestamp"] === "string" ? d["@timestamp"] : timestamp, id],
    event: {
      id,
      timestamp,
      action: (text(event.action) ?? "") as Action,
      path: text(sv.path) ?? "",
      identity: {
        id: text(obj(d.user).id) ?? "",
        type: (text(obj(sv.identity).type) ?? "") as IdentityType,
        session_id: text(obj(sv.session).id),
      },
      source_ip: text(obj(d.source).ip),
      user_agent: text(obj(d.user_agent).original),
      request: {
        id: text(request.id),
        method: text(request.method),
        status: num(obj(http.response).status_code),
        duration_ms: duration === null ? null : nsToMs(duration),
      },
      success: event.outcome === "success",
      error_code: text(obj(d.error).code),
      context: obj(sv.context),
    },
  };
}

export const fromDocument = (source: unknown): AuditEvent => readDocument(source).event;

/** Just the tenant and ingest stamp of a stored document, cheaply (the live tail's feed reads every tenant's). */
export function peekDocument(source: unknown): { tenant: string | null; ingested: string | null } {
  const d = obj(source);
  return { tenant: text(obj(d.scaivault).tenant), ingested: text(obj(d.event).ingested) };
}
