/**
 * @module formats/ocsf
 * The audit event (API form) → an OCSF 1.8.0 event, as a plain JSON object. Pure: no clock, no I/O.
 *
 * Classes (docs/ocsf-mapping.md has the whole table, field by field):
 * - secrets (read, list, write, rotate, delete) and the credential-issuing engines (pki_issue,
 *   pki_revoke, dynamic_generate, dynamic_revoke) → API Activity (6003, category 6 Application
 *   Activity): each is one API call on a path, and the call (api.operation, api.request.uid,
 *   api.response) is the class's subject. read/list → Read, write/rotate → Update, delete → Delete;
 *   pki_issue/dynamic_generate → Create (a new credential), pki_revoke/dynamic_revoke → Delete (the
 *   credential stops being valid).
 * - policy_* → Entity Management (3004, category 3 Identity & Access Management), the entity being
 *   the policy: create/update/delete → Create/Update/Delete; bind/unbind → Other (99) with
 *   activity_name Bind/Unbind. Account Change (3001) has Attach/Detach Policy, but it requires the
 *   account changed (`user`), which the event does not carry (its identity is the actor).
 * - anything else (a stored document's unknown action) → API Activity, Other (99).
 *
 * Time: `time` is whole epoch milliseconds (rounded down); the exact microsecond instant is
 * `time_dt` (the datetime profile, listed in metadata.profiles) and `metadata.original_time`.
 * Nothing is dropped: what has no OCSF attribute (the context, a non-standard HTTP method, a
 * fractional duration, a source address that is no IP) goes to `unmapped`.
 */
import { isIP } from "node:net";
import type { Action, AuditEvent } from "../events/event.schema.ts";
import {
  actionName,
  epochMillis,
  type FormatOptions,
  identityName,
  isAction,
  PRODUCT,
  PRODUCT_VERSION,
  resourceType,
  SEVERITY_NAMES,
  severityOf,
} from "./classify.ts";

export const OCSF_VERSION = "1.8.0";

interface OcsfClass {
  class_uid: number;
  class_name: string;
  category_uid: number;
  category_name: string;
}

const API_ACTIVITY: OcsfClass = {
  class_uid: 6003,
  class_name: "API Activity",
  category_uid: 6,
  category_name: "Application Activity",
};
const ENTITY_MANAGEMENT: OcsfClass = {
  class_uid: 3004,
  class_name: "Entity Management",
  category_uid: 3,
  category_name: "Identity & Access Management",
};

/** Each action's class and activity (id, and its caption or, for Other, the source's own name). */
export const OCSF_ACTIVITIES: Record<Action, { cls: OcsfClass; id: number; name: string }> = {
  read: { cls: API_ACTIVITY, id: 2, name: "Read" },
  list: { cls: API_ACTIVITY, id: 2, name: "Read" },
  write: { cls: API_ACTIVITY, id: 3, name: "Update" },
  rotate: { cls: API_ACTIVITY, id: 3, name: "Update" },
  delete: { cls: API_ACTIVITY, id: 4, name: "Delete" },
  pki_issue: { cls: API_ACTIVITY, id: 1, name: "Create" },
  pki_revoke: { cls: API_ACTIVITY, id: 4, name: "Delete" },
  dynamic_generate: { cls: API_ACTIVITY, id: 1, name: "Create" },
  dynamic_revoke: { cls: API_ACTIVITY, id: 4, name: "Delete" },
  policy_create: { cls: ENTITY_MANAGEMENT, id: 1, name: "Create" },
  policy_update: { cls: ENTITY_MANAGEMENT, id: 3, name: "Update" },
  policy_delete: { cls: ENTITY_MANAGEMENT, id: 4, name: "Delete" },
  policy_bind: { cls: ENTITY_MANAGEMENT, id: 99, name: "Bind" },
  policy_unbind: { cls: ENTITY_MANAGEMENT, id: 99, name: "Unbind" },
};

function ocsfActivity(action: string): { cls: OcsfClass; id: number; name: string } {
  return isAction(action) ? OCSF_ACTIVITIES[action] : { cls: API_ACTIVITY, id: 99, name: action || "Other" };
}

/** OCSF user.type_id: User (1), Service (4); a group acting is Other (99) named "Group". */
const USER_TYPES: Record<string, { type_id: number; type: string }> = {
  user: { type_id: 1, type: "User" },
  service_account: { type_id: 4, type: "Service" },
  group: { type_id: 99, type: "Group" },
};

/** The methods OCSF's http_request.http_method enumerates; others (LIST, …) go to unmapped. */
const OCSF_HTTP_METHODS = new Set([
  "OPTIONS",
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "TRACE",
  "CONNECT",
  "PATCH",
]);

/** OCSF's datetime_t (RFC 3339). */
const DATETIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

const nonEmpty = (s: string | null | undefined): s is string => typeof s === "string" && s !== "";

export function toOcsf(
  event: AuditEvent,
  tenant: string,
  options: FormatOptions = {},
): Record<string, unknown> {
  const activity = ocsfActivity(event.action);
  const { cls } = activity;
  const severity = severityOf(event);
  const unmapped: Record<string, unknown> = {};

  const time = epochMillis(event.timestamp);
  if (time === null) unmapped.timestamp = event.timestamp;
  const logged = epochMillis(options.ingested);

  const metadata: Record<string, unknown> = {
    version: OCSF_VERSION,
    product: {
      name: PRODUCT.name,
      vendor_name: PRODUCT.vendor,
      version: options.productVersion ?? PRODUCT_VERSION,
    },
    profiles: ["datetime"],
    log_name: "audit",
    uid: event.id,
    event_code: event.action,
    tenant_uid: tenant,
    original_time: event.timestamp,
  };
  if (logged !== null && options.ingested) {
    metadata.logged_time = logged;
    if (DATETIME.test(options.ingested)) metadata.logged_time_dt = options.ingested;
  }

  const userType = USER_TYPES[event.identity.type] ?? { type_id: 0, type: "Unknown" };
  if (!Object.hasOwn(USER_TYPES, event.identity.type)) unmapped.identity_type = event.identity.type;
  const actor: Record<string, unknown> = {
    user: {
      uid: event.identity.id,
      name: identityName(event.identity),
      ...userType,
    },
  };
  if (nonEmpty(event.identity.session_id)) actor.session = { uid: event.identity.session_id };

  const ip = nonEmpty(event.source_ip) && isIP(event.source_ip) !== 0 ? event.source_ip : null;
  if (ip === null && nonEmpty(event.source_ip)) unmapped.source_ip = event.source_ip;

  const httpRequest: Record<string, unknown> = {};
  if (nonEmpty(event.request.id)) httpRequest.uid = event.request.id;
  if (nonEmpty(event.user_agent)) httpRequest.user_agent = event.user_agent;
  if (nonEmpty(event.request.method)) {
    if (OCSF_HTTP_METHODS.has(event.request.method)) httpRequest.http_method = event.request.method;
    else unmapped.http_method = event.request.method;
  }
  const status = event.request.status;
  const hasStatus = typeof status === "number" && Number.isInteger(status);

  const out: Record<string, unknown> = {
    class_uid: cls.class_uid,
    class_name: cls.class_name,
    category_uid: cls.category_uid,
    category_name: cls.category_name,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: cls.class_uid * 100 + activity.id,
    type_name: `${cls.class_name}: ${activity.name}`,
    severity_id: severity,
    severity: SEVERITY_NAMES[severity],
    time: time ?? 0,
    ...(DATETIME.test(event.timestamp) ? { time_dt: event.timestamp } : {}),
    timezone_offset: 0,
    status_id: event.success ? 1 : 2,
    status: event.success ? "Success" : "Failure",
    ...(nonEmpty(event.error_code) ? { status_code: event.error_code } : {}),
    message: `${actionName(event.action)}: ${event.path} by ${event.identity.id}${event.success ? "" : ` (failed${nonEmpty(event.error_code) ? `: ${event.error_code}` : ""})`}`,
    metadata,
    actor,
  };

  // The class requires a source endpoint; an event without an address says so rather than omit it.
  if (ip !== null) out.src_endpoint = { ip };
  else if (cls === API_ACTIVITY) out.src_endpoint = { name: "unknown" };
  if (Object.keys(httpRequest).length > 0) out.http_request = httpRequest;
  if (hasStatus) out.http_response = { code: status };

  if (cls === API_ACTIVITY) {
    const response: Record<string, unknown> = {};
    if (hasStatus) response.code = status;
    if (nonEmpty(event.error_code)) response.error = event.error_code;
    out.api = {
      operation: event.action,
      service: { name: PRODUCT.vendor },
      ...(nonEmpty(event.request.id) ? { request: { uid: event.request.id } } : {}),
      ...(Object.keys(response).length > 0 ? { response } : {}),
    };
    out.resources = [{ uid: event.path, name: event.path, type: resourceType(event.action), role_id: 1 }];
  } else {
    out.entity = { uid: event.path, name: event.path, type: resourceType(event.action), type_id: 5 };
  }

  const duration = event.request.duration_ms;
  if (typeof duration === "number" && Number.isFinite(duration)) {
    out.duration = Math.round(duration);
    if (!Number.isInteger(duration)) unmapped.duration_ms = duration;
  }
  if (event.context && Object.keys(event.context).length > 0) unmapped.context = event.context;
  if (Object.keys(unmapped).length > 0) out.unmapped = unmapped;
  return out;
}
