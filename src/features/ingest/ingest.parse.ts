/**
 * @module features/ingest/parse
 * Turns a request body (JSON `{"events": […]}` or NDJSON) into validated, redacted events and
 * per-index rejections. Whatever one event holds — a duplicate key, a number JSON cannot carry
 * exactly, a context nested thousands of levels deep, anything the checks themselves trip over —
 * rejects that event alone, never the batch. Pure but for the ids, which come from the function
 * passed in.
 */

import { type FieldError, InvalidInput, TooLarge } from "../../errors.ts";
import type { NormalizedEvent } from "../../events/event.mapping.ts";
import { normalize } from "../../events/event.mapping.ts";
import { IngestEventSchema } from "../../events/event.schema.ts";
import { redactSecrets } from "../../events/secrets.ts";
import { type JsonProblem, parseJson } from "../../http/json.ts";
import { MAX_EVENTS } from "./ingest.schema.ts";

export type BodyFormat = "json" | "ndjson";

/** One event as sent: its parsed value and what its JSON text would have lost; or not JSON at all. */
type RawEvent = { value: unknown; errors: FieldError[] } | { notJson: true; errors: FieldError[] };

export interface ParsedBatch {
  /** One slot per event sent: the event, or its errors. */
  items: ({ ok: true; event: NormalizedEvent } | { ok: false; errors: FieldError[] })[];
  /** Values redacted, by rule: `key` (by key name) or the value rule that found a secret. */
  redactions: Map<string, number>;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

const fieldOf = (path: readonly PropertyKey[]) => path.map(String).join(".") || "event";
const asErrors = (problems: JsonProblem[]): FieldError[] =>
  problems.map((p) => ({ field: fieldOf(p.path), message: p.message }));

const bodyProblem = (detail: string, field: string, message: string) =>
  new InvalidInput(detail, [{ field, message }]);

/** Splits the body into raw events; shape errors of the body itself are a 400 for the whole request. */
export function rawEvents(body: string, format: BodyFormat): RawEvent[] {
  if (format === "ndjson") {
    return body
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        try {
          const { value, problems } = parseJson(line);
          return { value, errors: asErrors(problems) };
        } catch {
          return { notJson: true, errors: [{ field: "event", message: "is not valid JSON" }] };
        }
      });
  }
  let parsed: ReturnType<typeof parseJson>;
  try {
    parsed = parseJson(body);
  } catch {
    throw bodyProblem("the body is not valid JSON", "body", "is not valid JSON");
  }
  const { value, problems } = parsed;
  if (!isObject(value))
    throw bodyProblem('the body must be an object {"events": [...]}', "body", "must be an object");
  const extra = Object.keys(value).filter((k) => k !== "events");
  if (extra.length > 0) {
    throw new InvalidInput(
      "the body has unknown fields",
      extra.map((field) => ({
        field,
        message:
          field === "tenant" ? "is not accepted: the tenant comes from the token" : "is not a known field",
      })),
    );
  }
  // Problems outside any one event (a second "events" key) concern the whole body.
  const outside = problems.filter((p) => p.path[0] !== "events" || typeof p.path[1] !== "number");
  if (outside.length > 0) throw new InvalidInput("the body is invalid", asErrors(outside));
  if (!Array.isArray(value.events))
    throw bodyProblem("events must be an array", "events", "must be an array of events");
  return value.events.map((v, i) => ({
    value: v,
    errors: asErrors(problems.filter((p) => p.path[1] === i).map((p) => ({ ...p, path: p.path.slice(2) }))),
  }));
}

/** One event checked and settled; anything it makes the checks throw is its own rejection. */
function readEvent(raw: RawEvent, newId: () => string): ParsedBatch["items"][number] & { redacted?: number } {
  if ("notJson" in raw) return { ok: false, errors: raw.errors };
  try {
    const result = IngestEventSchema.safeParse(raw.value);
    const errors = [...raw.errors];
    if (!result.success) {
      for (const i of result.error.issues) {
        // Name each unknown field rather than the object that holds it.
        if (i.code === "unrecognized_keys")
          errors.push(
            ...i.keys.map((k) => ({ field: fieldOf([...i.path, k]), message: "is not a known field" })),
          );
        else errors.push({ field: fieldOf(i.path), message: i.message });
      }
    }
    if (errors.length > 0 || !result.success) return { ok: false, errors };
    const n = normalize(result.data, newId);
    return { ok: true, event: n.event, redacted: n.redacted };
  } catch {
    return { ok: false, errors: [{ field: "event", message: "could not be read as an audit event" }] };
  }
}

export async function parseBatch(raw: RawEvent[], newId: () => string): Promise<ParsedBatch> {
  if (raw.length === 0) throw bodyProblem("no events were sent", "events", "must hold at least one event");
  if (raw.length > MAX_EVENTS) {
    throw new TooLarge(`a request holds at most ${MAX_EVENTS} events; this one has ${raw.length}`);
  }
  // The tenant is never taken from the request: a tenant field anywhere fails the whole request.
  const tenantFields = raw.flatMap((e, i) =>
    "value" in e && isObject(e.value) && "tenant" in e.value ? [`events[${i}].tenant`] : [],
  );
  if (tenantFields.length > 0) {
    throw new InvalidInput(
      "events must not carry a tenant: it comes from the token",
      tenantFields.map((field) => ({ field, message: "is not accepted: the tenant comes from the token" })),
    );
  }

  const redactions = new Map<string, number>();
  const items: ParsedBatch["items"] = raw.map((r) => {
    const { redacted = 0, ...item } = readEvent(r, newId);
    if (redacted > 0) redactions.set("key", (redactions.get("key") ?? 0) + redacted);
    return item;
  });
  // Redaction by value: one scan of the whole batch.
  const accepted = items.flatMap((item) => (item.ok ? [item.event] : []));
  const scanned = await redactSecrets(accepted);
  for (const [rule, n] of scanned.counts) redactions.set(rule, (redactions.get(rule) ?? 0) + n);
  let k = 0;
  for (const item of items) if (item.ok) item.event = scanned.events[k++] as NormalizedEvent;
  return { items, redactions };
}
