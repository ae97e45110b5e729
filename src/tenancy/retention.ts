/**
 * @module tenancy/retention
 * Per-tenant retention: stored in OpenSearch (`scaivault-tenants`, `_id` = tenant:retention) and
 * turned into the cut-off every read applies through `scoped()`. Read per request (a realtime GET
 * by id), so a shorter retention hides older events at once on every replica.
 */
import type { Client } from "@opensearch-project/opensearch";
import { isoMicros } from "../events/time.ts";
import { statusOf } from "../opensearch/errors.ts";
import { TENANTS_INDEX } from "../opensearch/names.ts";
import { scopedId, type Tenant } from "./tenant-scope.ts";

/** 7 years (7 × 365 + 2 leap days). */
export const DEFAULT_RETENTION_DAYS = 2557;
export const MAX_RETENTION_DAYS = 3650;
const DAY_MS = 86_400_000;

export interface RetentionDoc {
  scaivault: { tenant: string };
  retention_days: number;
  updated_at: string;
  updated_by: string;
}

const docId = (tenant: string) => scopedId(tenant, "retention");
/** A tenant's last purge outcome lives at this `_id` (written by retention.purge). */
export const purgeStatusId = (tenant: string) => scopedId(tenant, "purge");

const purgedBeforeId = (tenant: string) => scopedId(tenant, "purged-before");

/**
 * The newest cut-off a purge of the tenant deleted (or began deleting) up to, or null. It only
 * moves forward, even when a retention is raised again: counts kept from before a purge (the
 * summaries' rollup) must not be used for anything older.
 */
export async function purgedBefore(client: Client, tenant: string): Promise<string | null> {
  try {
    const res = await client.get({ index: TENANTS_INDEX, id: purgedBeforeId(tenant) });
    return (res.body._source as { purged_before?: string } | undefined)?.purged_before ?? null;
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/** Records, before deleting, that a purge deletes the tenant's events older than `cut`. */
export async function markPurging(client: Client, tenant: string, cut: string): Promise<void> {
  const before = await purgedBefore(client, tenant);
  if (before !== null && before >= cut) return;
  await client.index({
    index: TENANTS_INDEX,
    id: purgedBeforeId(tenant),
    body: { scaivault: { tenant }, purged_before: cut } as never,
    refresh: "wait_for",
  });
}

/** The tenant's stored retention, or undefined when it keeps the default. */
export async function storedRetention(client: Client, tenant: string): Promise<RetentionDoc | undefined> {
  try {
    const res = await client.get({ index: TENANTS_INDEX, id: docId(tenant) });
    return res.body._source as unknown as RetentionDoc;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export async function saveRetention(
  client: Client,
  tenant: string,
  days: number,
  by: string,
  now: Date,
): Promise<RetentionDoc> {
  const doc: RetentionDoc = {
    scaivault: { tenant },
    retention_days: days,
    updated_at: isoMicros(now),
    updated_by: by,
  };
  await client.index({ index: TENANTS_INDEX, id: docId(tenant), body: doc as never, refresh: "wait_for" });
  return doc;
}

/** The oldest instant a retention of `days` still shows at `now`. */
export function cutoff(days: number, now: Date): string {
  return isoMicros(new Date(now.getTime() - days * DAY_MS));
}

/** Resolves the verified tenant into what reads are scoped by: its id and its retention cut-off. */
export async function tenantScope(
  client: Client,
  tenant: string,
  now: Date,
): Promise<Tenant & { since: string }> {
  const days = (await storedRetention(client, tenant))?.retention_days ?? DEFAULT_RETENTION_DAYS;
  return { id: tenant, since: cutoff(days, now) };
}

/** The tenant's last purge outcome (see retention.purge), or null before any purge found its events. */
export async function lastPurge(client: Client, tenant: string): Promise<Record<string, unknown> | null> {
  try {
    const res = await client.get({ index: TENANTS_INDEX, id: purgeStatusId(tenant) });
    const last = (res.body._source as { last_purge?: Record<string, unknown> } | undefined)?.last_purge;
    if (!last) return null;
    const { tenant: _t, ...shown } = last;
    return shown;
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}
