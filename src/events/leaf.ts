/**
 * @module events/leaf
 * What the tamper-evident log commits to for one event (API.md › Integrity): the RFC 8785
 * canonical JSON of `{"tenant": …, …the event exactly as /logs returns it}`. Anyone holding the
 * event as the API or an export gave it can recompute it, with any RFC 8785 implementation.
 *
 * And the ingest seal: an HMAC of that leaf data, stored with each event ingest writes
 * (`scaivault.seal`), with a key only the service holds. The sealer appends only events whose seal
 * holds, so a document written into the cluster around the API never becomes evidence.
 */
import { createHmac, type KeyObject, timingSafeEqual } from "node:crypto";
import canonicalize from "canonicalize";
import { readDocument } from "./event.mapping.ts";
import type { AuditEvent } from "./event.schema.ts";

export function leafData(tenant: string, event: AuditEvent): Buffer {
  // The API form is plain JSON (strings, finite numbers, booleans, null, objects, arrays).
  return Buffer.from(canonicalize({ tenant, ...event }) as string, "utf8");
}

/** The key ingest seals events with: `id` names it in each seal (keys rotate). */
export interface SealKey {
  id: string;
  /** A secret KeyObject: an HMAC keyed by one is several times cheaper than by raw bytes. */
  key: KeyObject;
}

const mac = (key: SealKey, data: Buffer) =>
  `${key.id}:${createHmac("sha256", key.key).update(data).digest("base64url")}`;

/** The seal of a document about to be stored: over its leaf data as the sealer will read it back. */
export const sealOf = (key: SealKey, tenant: string, document: unknown): string =>
  mac(key, leafData(tenant, readDocument(document).event));

/** Whether a stored document's seal is `key`'s over this leaf data. */
export function sealHolds(key: SealKey, data: Buffer, seal: unknown): boolean {
  if (typeof seal !== "string") return false;
  const want = Buffer.from(mac(key, data));
  const got = Buffer.from(seal);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The seal a stored document carries (anything: it is read from the cluster). */
export const storedSeal = (source: unknown): unknown =>
  (source as { scaivault?: { seal?: unknown } } | null)?.scaivault?.seal;
