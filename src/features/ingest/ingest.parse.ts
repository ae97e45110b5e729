/**
 * @module features/ingest/parse
 * Turns a request body (JSON `{"events": […]}` or NDJSON) into validated, normalized events and
 * per-index rejections. Pure: ids come from the function passed in.
 */
import type { NormalizedEvent } from "../../events/event.mapping.ts";
import { normalize } from "../../events/event.mapping.ts";
import { IngestEventSchema } from "../../events/event.schema.ts";
import { type FieldError, ProblemError } from "../../http/problem.ts";
import { MAX_EVENTS } from "./ingest.schema.ts";

export type BodyFormat = "json" | "ndjson";

export interface ParsedBatch {
  /** One slot per event sent: the event, or its errors. */
  items: ({ ok: true; event: NormalizedEvent } | { ok: false; errors: FieldError[] })[];
  redacted: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Splits the body into raw events; shape errors of the body itself are a 400 for the whole request. */
export function rawEvents(body: string, format: BodyFormat): unknown[] {
  if (format === "ndjson") {
    return body
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return NOT_JSON;
        }
      });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ProblemError(400, "the body is not valid JSON", {
      errors: [{ field: "body", message: "is not valid JSON" }],
    });
  }
  if (!isObject(parsed)) {
    throw new ProblemError(400, 'the body must be an object {"events": [...]}', {
      errors: [{ field: "body", message: "must be an object" }],
    });
  }
  const extra = Object.keys(parsed).filter((k) => k !== "events");
  if (extra.length > 0) {
    throw new ProblemError(400, "the body has unknown fields", {
      errors: extra.map((field) => ({
        field,
        message:
          field === "tenant" ? "is not accepted: the tenant comes from the token" : "is not a known field",
      })),
    });
  }
  if (!Array.isArray(parsed.events)) {
    throw new ProblemError(400, "events must be an array", {
      errors: [{ field: "events", message: "must be an array of events" }],
    });
  }
  return parsed.events;
}

const NOT_JSON = Symbol("not JSON");

export function parseBatch(raw: unknown[], newId: () => string): ParsedBatch {
  if (raw.length === 0) {
    throw new ProblemError(400, "no events were sent", {
      errors: [{ field: "events", message: "must hold at least one event" }],
    });
  }
  if (raw.length > MAX_EVENTS) {
    throw new ProblemError(413, `a request holds at most ${MAX_EVENTS} events; this one has ${raw.length}`);
  }
  // The tenant is never taken from the request: a tenant field anywhere fails the whole request.
  const tenantFields = raw.flatMap((e, i) => (isObject(e) && "tenant" in e ? [`events[${i}].tenant`] : []));
  if (tenantFields.length > 0) {
    throw new ProblemError(400, "events must not carry a tenant: it comes from the token", {
      errors: tenantFields.map((field) => ({
        field,
        message: "is not accepted: the tenant comes from the token",
      })),
    });
  }

  let redacted = 0;
  const items = raw.map((e): ParsedBatch["items"][number] => {
    if (e === NOT_JSON) return { ok: false, errors: [{ field: "event", message: "is not valid JSON" }] };
    const result = IngestEventSchema.safeParse(e);
    if (!result.success) {
      return {
        ok: false,
        errors: result.error.issues.flatMap((i) =>
          // Name each unknown field rather than the object that holds it.
          i.code === "unrecognized_keys"
            ? i.keys.map((k) => ({ field: [...i.path, k].join("."), message: "is not a known field" }))
            : [{ field: i.path.join(".") || "event", message: i.message }],
        ),
      };
    }
    const n = normalize(result.data, newId);
    redacted += n.redacted;
    return { ok: true, event: n.event };
  });
  return { items, redacted };
}
