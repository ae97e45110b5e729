/**
 * @module features/delivery/documents
 * A destination is two documents in `scaivault-destinations`: what the API changes (`destination`,
 * `_id` = tenant:destination_id) and what the deliverer changes (`state`, `_id` =
 * tenant:destination_id:state — its lease, position and counts). Every write of a state is
 * conditional on the version read, so a deliverer whose lease ran out, or a replay asked for
 * meanwhile, is noticed instead of overwritten.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { Format, ReceiverName } from "../../destinations/receiver.ts";
import type { RawFilters } from "../../filters/filters.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { DESTINATIONS_INDEX } from "../../opensearch/names.ts";
import type { Position } from "../../opensearch/progress.ts";
import { scopedId } from "../../tenancy/tenant-scope.ts";

export interface DestinationDoc {
  kind: "destination";
  scaivault: { tenant: string };
  destination_id: string;
  name: string;
  type: ReceiverName;
  format: Format;
  /** As requested, relative times resolved when the destination was created or changed. */
  filters: RawFilters;
  config: Record<string, unknown>;
  batch: { max_events: number; linger_ms: number };
  credentials_secret: string;
  paused: boolean;
  created_at: string;
  created_by: string;
  updated_at: string;
  updated_by: string;
}

export interface StateDoc {
  kind: "state";
  scaivault: { tenant: string };
  destination_id: string;
  lease: { owner: string | null; expires_at: string | null };
  /** Everything before it was acknowledged by the receiver (or passed over: not matching, past retention). */
  position: Position;
  /** A replay in progress: events from `from` on, until the position reaches `until`. */
  replay: { from: string; until: Position } | null;
  delivered: number;
  failed: number;
  skipped_by_retention: number;
  last_success_at: string | null;
  last_error: { at: string; message: string } | null;
  failing_since: string | null;
  updated_at: string;
}

export interface Versioned<T> {
  doc: T;
  seq: number;
  term: number;
}

export const destinationId = (tenant: string, id: string) => scopedId(tenant, id);
export const stateId = (tenant: string, id: string) => `${scopedId(tenant, id)}:state`;

async function get<T>(client: Client, id: string): Promise<Versioned<T> | undefined> {
  try {
    const res = await client.get({ index: DESTINATIONS_INDEX, id });
    return {
      doc: res.body._source as unknown as T,
      seq: res.body._seq_no as number,
      term: res.body._primary_term as number,
    };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export async function loadDestination(
  client: Client,
  tenant: string,
  id: string,
): Promise<Versioned<DestinationDoc> | undefined> {
  const got = await get<DestinationDoc>(client, destinationId(tenant, id));
  return got && got.doc.scaivault.tenant === tenant && got.doc.kind === "destination" ? got : undefined;
}

export async function loadState(
  client: Client,
  tenant: string,
  id: string,
): Promise<Versioned<StateDoc> | undefined> {
  const got = await get<StateDoc>(client, stateId(tenant, id));
  return got && got.doc.scaivault.tenant === tenant && got.doc.kind === "state" ? got : undefined;
}

/**
 * Writes `doc` over the version read; false when someone else wrote it meanwhile (a conflict), or
 * it is gone (the destination was deleted).
 */
export async function writeState(
  client: Client,
  read: Versioned<StateDoc>,
  doc: StateDoc,
  refresh: "wait_for" | false = false,
): Promise<Versioned<StateDoc> | undefined> {
  try {
    const res = await client.index({
      index: DESTINATIONS_INDEX,
      id: stateId(doc.scaivault.tenant, doc.destination_id),
      if_seq_no: read.seq,
      if_primary_term: read.term,
      body: doc as never,
      refresh,
    });
    return { doc, seq: res.body._seq_no as number, term: res.body._primary_term as number };
  } catch (err) {
    if (statusOf(err) === 409 || statusOf(err) === 404) return undefined;
    throw err;
  }
}
