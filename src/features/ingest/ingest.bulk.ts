/**
 * @module features/ingest/bulk
 * Pure helpers for the bulk write: the bulk body (`_id` = scopedId(tenant, event id), so a retried
 * event conflicts with its first copy while two tenants may use the same event id), and the reading of OpenSearch's per-item results.
 */
import { type NormalizedEvent, toDocument } from "../../events/event.mapping.ts";
import { type SealKey, sealOf } from "../../events/leaf.ts";
import { scopedId } from "../../tenancy/tenant-scope.ts";

/**
 * The bulk request as NDJSON text. Serialized here with plain JSON.stringify: the client's own
 * serializer runs a replacer over every value (for BigInt support), several times slower.
 */
export function bulkBody(
  index: string,
  tenant: string,
  events: NormalizedEvent[],
  ingested: string,
  seal?: SealKey,
): string {
  let out = "";
  for (const e of events) {
    out += `${JSON.stringify({ create: { _index: index, _id: scopedId(tenant, e.id) } })}\n`;
    const doc = toDocument(e, tenant, ingested);
    if (seal) doc.scaivault.seal = sealOf(seal, tenant, doc);
    out += `${JSON.stringify(doc)}\n`;
  }
  return out;
}

export type ItemOutcome = "created" | "duplicate" | "retry" | "failed";

/** 409 is the first copy already stored; 429 and 5xx are worth retrying; anything else is final. */
export function itemOutcome(status: number): ItemOutcome {
  if (status === 200 || status === 201) return "created";
  if (status === 409) return "duplicate";
  if (status === 429 || status >= 500) return "retry";
  return "failed";
}
