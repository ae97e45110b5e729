/**
 * @module features/ingest/service
 * Writes events durably. An event counts as accepted only once OpenSearch acknowledged it; items
 * OpenSearch pushes back on (429, 5xx) are retried a few times, and if they still fail the whole
 * request fails with nothing promised, so the client retries the same ids safely.
 */
import type { Client } from "@opensearch-project/opensearch";
import { Internal, Unavailable } from "../../errors.ts";
import type { NormalizedEvent } from "../../events/event.mapping.ts";
import type { SealKey } from "../../events/leaf.ts";
import type { Logger } from "../../logger.ts";
import { AUDIT_STREAM } from "../../opensearch/names.ts";
import { scopedId } from "../../tenancy/tenant-scope.ts";
import { bulkBody, itemOutcome } from "./ingest.bulk.ts";

export interface IngestResult {
  /** Per input event: whether it was stored now or was already there. */
  outcomes: ("created" | "duplicate")[];
}

export interface IngestDeps {
  client: Client;
  log: Logger;
  now: () => Date;
  /** Seals each event for the tamper-evident log (none: events are stored unsealed, never sealed into it). */
  seal?: SealKey;
  /** Back-off between attempts for items OpenSearch pushed back on. */
  retryDelaysMs?: number[];
}

/** Seconds a client should wait before resending a batch nothing of which was acknowledged. */
const RETRY_AFTER_SECONDS = 5;

export const BULK_FILTER = ["errors", "items.*.status", "items.*.error.type", "items.*.error.reason"];

type BulkItem = { create?: { status: number; error?: { type?: string; reason?: string } } };

/**
 * Older backing indices of the data stream: `create` detects a duplicate only inside the write
 * index, so after a rollover the ids are also looked up in the (read-only) older ones. Cached
 * briefly: rollovers are rare, and this is on every ingest request.
 */
const BACKING_TTL_MS = 5_000;
const backingCache = new WeakMap<Client, { at: number; older: Promise<string[]> }>();

function olderBackingIndices(client: Client, now: number): Promise<string[]> {
  const hit = backingCache.get(client);
  if (hit && now - hit.at < BACKING_TTL_MS) return hit.older;
  const older = client.indices
    .getDataStream({ name: AUDIT_STREAM })
    .then((res) => (res.body.data_streams[0]?.indices.map((i) => i.index_name) ?? []).slice(0, -1));
  backingCache.set(client, { at: now, older });
  older.catch(() => backingCache.delete(client));
  return older;
}

async function storedElsewhere(client: Client, indices: string[], ids: string[]): Promise<Set<string>> {
  if (indices.length === 0 || ids.length === 0) return new Set();
  const res = await client.search({
    index: indices.join(","),
    body: { query: { ids: { values: ids } }, _source: false, size: ids.length },
  });
  return new Set(res.body.hits.hits.map((h) => h._id as string));
}

export async function ingestEvents(
  deps: IngestDeps,
  tenant: string,
  events: NormalizedEvent[],
): Promise<IngestResult> {
  const outcomes: IngestResult["outcomes"] = new Array(events.length);
  const ingested = deps.now().toISOString();

  const ids = events.map((e) => scopedId(tenant, e.id));
  const older = await storedElsewhere(deps.client, await olderBackingIndices(deps.client, Date.now()), ids);
  let pending = ids.flatMap((id, i) => {
    if (!older.has(id)) return [i];
    outcomes[i] = "duplicate";
    return [];
  });

  const delays = deps.retryDelaysMs ?? [100, 400, 1600];
  for (let attempt = 0; pending.length > 0; attempt++) {
    const batch = pending.map((i) => events[i] as NormalizedEvent);
    const res = await deps.client.bulk({
      // Bytes, not text: the client would measure a string's UTF-8 length, then encode it again.
      body: Buffer.from(bulkBody(AUDIT_STREAM, tenant, batch, ingested, deps.seal)) as never,
      // Only what we read back: a full bulk response for 1,000 items is large and slow to parse.
      filter_path: BULK_FILTER,
    });
    const items = res.body.items as BulkItem[];
    const retry: number[] = [];
    for (const [k, item] of items.entries()) {
      const i = pending[k] as number;
      const status = item.create?.status ?? 500;
      const outcome = itemOutcome(status);
      if (outcome === "created" || outcome === "duplicate") outcomes[i] = outcome;
      else if (outcome === "retry") retry.push(i);
      else {
        // Validation and the strict mapping agree, so this is a bug or a changed template: fail loudly.
        deps.log.error({ status, error: item.create?.error }, "OpenSearch refused a validated audit event");
        throw new Internal("the audit store refused an event; nothing was acknowledged");
      }
    }
    pending = retry;
    if (pending.length === 0) break;
    const delay = delays[attempt];
    if (delay === undefined) {
      deps.log.warn({ pending: pending.length }, "OpenSearch kept pushing back on bulk items");
      throw new Unavailable(
        "the audit store is overloaded; nothing was acknowledged, retry the same events later",
        RETRY_AFTER_SECONDS,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  return { outcomes };
}
