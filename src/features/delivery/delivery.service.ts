/**
 * @module features/delivery/service
 * What the API does with destinations: create, read with status, list, change, delete, pause,
 * resume, replay, test. Every lookup is by `scopedId(tenant, id)`, so another tenant's destination
 * is simply not found. Each change is logged with who made it.
 */
import type { Client } from "@opensearch-project/opensearch";
import { monotonicFactory } from "ulid";
import type { DeliverySettings } from "../../config.ts";
import type { SecretResolver } from "../../destinations/credentials.ts";
import { DestinationError } from "../../destinations/errors.ts";
import {
  configSchema,
  formatsOf,
  openReceiver,
  refusedReceiverEndpoints,
} from "../../destinations/receiver.ts";
import { Conflict, InvalidInput, invalidField, NotFound, Unavailable } from "../../errors.ts";
import { readDocument } from "../../events/event.mapping.ts";
import { isoMicros, parseInstant } from "../../events/time.ts";
import { issuesToFields, resolve, toStored } from "../../filters/filters.ts";
import type { Principal } from "../../http/env.ts";
import type { Logger } from "../../logger.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { DESTINATIONS_INDEX } from "../../opensearch/names.ts";
import { formatPosition, parsePosition } from "../../opensearch/position.ts";
import { type Position, type Store, storeProgress } from "../../opensearch/progress.ts";
import { tenantScope } from "../../tenancy/retention.ts";
import { outgoing } from "./delivery.deliverer.ts";
import {
  type DestinationDoc,
  destinationId,
  loadDestination,
  loadState,
  type StateDoc,
  stateId,
  type Versioned,
  writeState,
} from "./delivery.documents.ts";
import { destinationsList } from "./delivery.query.ts";
import { lagOf } from "./delivery.reader.ts";
import {
  type CreateDestination,
  DESTINATION_ID,
  type DestinationView,
  type Status,
  type UpdateDestination,
} from "./delivery.schema.ts";

const newUlid = monotonicFactory();
/** A tenant's destinations are listed whole: a limit keeps that one page. */
const MAX_DESTINATIONS = 100;

export interface DeliveryContext {
  client: Client;
  store: Store;
  log: Logger;
  secrets: SecretResolver;
  allowlist: readonly string[];
  settings: Pick<DeliverySettings, "failingAfterMs" | "sendTimeoutMs">;
  now: () => Date;
}

const notFound = (id: string) => new NotFound(`no destination ${id}`);

/** The store's newest position: a new destination sends what is stored from now on. */
async function head(store: Store): Promise<Position> {
  const write = (await storeProgress(store)).at(-1);
  if (!write) throw new Unavailable("the audit store is not ready", 5);
  return { gen: write.gen, seq: write.shards.map((s) => s.checkpoint + 1) };
}

function checkTypeFields(
  type: DestinationDoc["type"],
  fields: { format?: string; config?: unknown },
  allowlist: readonly string[],
) {
  if (fields.format !== undefined && !formatsOf(type).includes(fields.format as never))
    throw invalidField("format", `must be one of ${formatsOf(type).join(", ")} for a ${type} destination`);
  if (fields.config === undefined) return undefined;
  const parsed = configSchema(type).safeParse(fields.config);
  if (!parsed.success)
    throw new InvalidInput(
      "the destination is invalid",
      issuesToFields(parsed.error.issues, "is not a known field").map((e) => ({
        ...e,
        field: `config.${e.field}`,
      })),
    );
  const refused = refusedReceiverEndpoints(type, parsed.data, allowlist);
  if (refused.length > 0) throw new InvalidInput("the destination is invalid", refused);
  return parsed.data as Record<string, unknown>;
}

export async function createDestination(
  ctx: DeliveryContext,
  principal: Principal,
  req: CreateDestination,
): Promise<DestinationView> {
  const config = checkTypeFields(req.type, { format: req.format, config: req.config }, ctx.allowlist);
  const now = ctx.now();
  const at = isoMicros(now);
  const doc: DestinationDoc = {
    kind: "destination",
    scaivault: { tenant: principal.tenant },
    destination_id: `dst_${newUlid(now.getTime())}`,
    name: req.name,
    type: req.type,
    format: req.format,
    filters: toStored(resolve(req.filters, now).filters),
    config: config ?? {},
    batch: req.batch,
    credentials_secret: req.credentials_secret,
    paused: false,
    created_at: at,
    created_by: principal.subject,
    updated_at: at,
    updated_by: principal.subject,
  };
  const state: StateDoc = {
    kind: "state",
    scaivault: { tenant: principal.tenant },
    destination_id: doc.destination_id,
    lease: { owner: null, expires_at: null },
    position: await head(ctx.store),
    replay: null,
    delivered: 0,
    failed: 0,
    skipped_by_retention: 0,
    last_success_at: null,
    last_error: null,
    failing_since: null,
    updated_at: at,
  };
  // The state first: a destination is only taken up by a deliverer once both exist.
  await ctx.client.index({
    index: DESTINATIONS_INDEX,
    id: stateId(principal.tenant, doc.destination_id),
    op_type: "create",
    body: state as never,
  });
  await ctx.client.index({
    index: DESTINATIONS_INDEX,
    id: destinationId(principal.tenant, doc.destination_id),
    op_type: "create",
    refresh: "wait_for",
    body: doc as never,
  });
  ctx.log.info(
    { tenant: principal.tenant, destination: doc.destination_id, by: principal.subject, type: doc.type },
    "delivery: destination created",
  );
  return view(ctx, doc, state);
}

async function loadBoth(ctx: DeliveryContext, tenant: string, id: string) {
  if (!DESTINATION_ID.test(id)) throw notFound(id);
  const [dest, state] = await Promise.all([
    loadDestination(ctx.client, tenant, id),
    loadState(ctx.client, tenant, id),
  ]);
  if (!dest || !state) throw notFound(id);
  return { dest, state };
}

export async function getDestination(
  ctx: DeliveryContext,
  tenant: string,
  id: string,
): Promise<DestinationView> {
  const { dest, state } = await loadBoth(ctx, tenant, id);
  return view(ctx, dest.doc, state.doc);
}

export async function listDestinations(ctx: DeliveryContext, tenant: string): Promise<DestinationView[]> {
  const res = await ctx.client.search({
    index: DESTINATIONS_INDEX,
    body: destinationsList(tenant, MAX_DESTINATIONS) as never,
  });
  const docs = (res.body as { hits: { hits: { _source: DestinationDoc }[] } }).hits.hits.map(
    (h) => h._source,
  );
  return Promise.all(
    docs.map(async (d) => {
      const state = await loadState(ctx.client, tenant, d.destination_id);
      return state ? view(ctx, d, state.doc) : undefined;
    }),
  ).then((views) => views.filter((v): v is DestinationView => v !== undefined));
}

/** Writes the destination over the version read (a concurrent change is a 409). */
async function saveDestination(ctx: DeliveryContext, read: Versioned<DestinationDoc>, doc: DestinationDoc) {
  try {
    await ctx.client.index({
      index: DESTINATIONS_INDEX,
      id: destinationId(doc.scaivault.tenant, doc.destination_id),
      if_seq_no: read.seq,
      if_primary_term: read.term,
      refresh: "wait_for",
      body: doc as never,
    });
  } catch (err) {
    if (statusOf(err) === 409 || statusOf(err) === 404)
      throw new Conflict(`destination ${doc.destination_id} was changed meanwhile; read it and try again`);
    throw err;
  }
}

export async function updateDestination(
  ctx: DeliveryContext,
  principal: Principal,
  id: string,
  change: UpdateDestination,
): Promise<DestinationView> {
  const { dest, state } = await loadBoth(ctx, principal.tenant, id);
  const config = checkTypeFields(dest.doc.type, change, ctx.allowlist);
  const now = ctx.now();
  const doc: DestinationDoc = {
    ...dest.doc,
    ...(change.name !== undefined ? { name: change.name } : {}),
    ...(change.format !== undefined ? { format: change.format } : {}),
    ...(change.filters !== undefined ? { filters: toStored(resolve(change.filters, now).filters) } : {}),
    ...(change.batch !== undefined ? { batch: change.batch } : {}),
    ...(change.credentials_secret !== undefined ? { credentials_secret: change.credentials_secret } : {}),
    ...(config !== undefined ? { config } : {}),
    updated_at: isoMicros(now),
    updated_by: principal.subject,
  };
  await saveDestination(ctx, dest, doc);
  ctx.log.info(
    { tenant: principal.tenant, destination: id, by: principal.subject, fields: Object.keys(change) },
    "delivery: destination changed",
  );
  return view(ctx, doc, state.doc);
}

export async function deleteDestination(
  ctx: DeliveryContext,
  principal: Principal,
  id: string,
): Promise<void> {
  await loadBoth(ctx, principal.tenant, id);
  // The destination first: a deliverer stops at its next look, and its state goes with it.
  for (const docId of [destinationId(principal.tenant, id), stateId(principal.tenant, id)]) {
    await ctx.client.delete({ index: DESTINATIONS_INDEX, id: docId, refresh: "wait_for" }).catch((err) => {
      if (statusOf(err) !== 404) throw err;
    });
  }
  ctx.log.info(
    { tenant: principal.tenant, destination: id, by: principal.subject },
    "delivery: destination deleted",
  );
}

export async function setPaused(
  ctx: DeliveryContext,
  principal: Principal,
  id: string,
  paused: boolean,
): Promise<DestinationView> {
  const { dest, state } = await loadBoth(ctx, principal.tenant, id);
  const doc = { ...dest.doc, paused, updated_at: isoMicros(ctx.now()), updated_by: principal.subject };
  if (dest.doc.paused !== paused) await saveDestination(ctx, dest, doc);
  ctx.log.info(
    { tenant: principal.tenant, destination: id, by: principal.subject },
    paused ? "delivery: destination paused" : "delivery: destination resumed",
  );
  return view(ctx, doc, state.doc);
}

/**
 * Moves the destination back: to a position, or to the start of the store with a floor of `from`
 * until it is back where it was — events before `from` are not sent again.
 */
export async function replayDestination(
  ctx: DeliveryContext,
  principal: Principal,
  id: string,
  req: { from: string } | { position: string },
): Promise<DestinationView> {
  const { dest } = await loadBoth(ctx, principal.tenant, id);
  const now = ctx.now();
  const indices = await storeProgress(ctx.store);
  const write = indices.at(-1);
  const oldest = indices[0];
  if (!write || !oldest) throw new Unavailable("the audit store is not ready", 5);
  let position: Position;
  let replay: StateDoc["replay"] = null;
  if ("position" in req) {
    const p = parsePosition(req.position);
    const at = p && indices.find((i) => i.gen === p.gen);
    if (
      !p ||
      p.gen > write.gen ||
      (at && (p.seq.length !== at.shards.length || p.seq.some((s, i) => s > (at.shards[i]?.max ?? -1) + 1)))
    )
      throw invalidField("position", "is not a position of this audit store (see status.position)");
    position = p;
  } else {
    const t = parseInstant(req.from, now);
    if (!t.ok) throw invalidField("from", t.message);
    if (t.value > isoMicros(now)) throw invalidField("from", "must not be in the future");
    position = { gen: oldest.gen, seq: oldest.shards.map(() => 0) };
    replay = { from: t.value, until: { gen: write.gen, seq: write.shards.map((s) => s.checkpoint + 1) } };
  }
  // Over the deliverer's writes: it notices the conflict and carries on from here.
  for (let tries = 0; tries < 5; tries++) {
    const state = await loadState(ctx.client, principal.tenant, id);
    if (!state) throw notFound(id);
    const doc: StateDoc = { ...state.doc, position, replay, updated_at: isoMicros(now) };
    if (await writeState(ctx.client, state, doc, "wait_for")) {
      ctx.log.info(
        { tenant: principal.tenant, destination: id, by: principal.subject, ...req },
        "delivery: destination replayed",
      );
      return view(ctx, dest.doc, doc);
    }
  }
  throw new Conflict(`destination ${id} is busy; try again`);
}

/** Sends one synthetic event (not stored, not in the audit log) and says what the receiver answered. */
export async function testDestination(
  ctx: DeliveryContext,
  tenant: string,
  id: string,
): Promise<{ ok: boolean; event_id: string; duration_ms: number; error: string | null }> {
  const { dest } = await loadBoth(ctx, tenant, id);
  const now = ctx.now();
  const eventId = `test_${newUlid(now.getTime())}`;
  const synthetic = readDocument({
    "@timestamp": isoMicros(now),
    event: { id: eventId, action: "read", outcome: "success", ingested: isoMicros(now) },
    user: { id: "scaivault:destination-test" },
    scaivault: {
      tenant,
      path: "scaivault/destination-test",
      identity: { type: "service_account" },
      context: { test: true },
    },
  });
  const began = performance.now();
  let error: string | null = null;
  try {
    const secret = await ctx.secrets.resolve(tenant, dest.doc.credentials_secret);
    const receiver = openReceiver(dest.doc.type, dest.doc.config, secret, ctx.allowlist, {
      tenant,
      destinationId: id,
      timeoutMs: ctx.settings.sendTimeoutMs,
    });
    try {
      await receiver.send(
        [outgoing(synthetic, dest.doc.format, tenant)],
        AbortSignal.timeout(ctx.settings.sendTimeoutMs * 2),
      );
    } finally {
      await receiver.close();
    }
  } catch (err) {
    if (!(err instanceof DestinationError)) throw err;
    error = err.message;
  }
  return { ok: error === null, event_id: eventId, duration_ms: Math.round(performance.now() - began), error };
}

async function status(ctx: DeliveryContext, d: DestinationDoc, s: StateDoc): Promise<Status> {
  const now = ctx.now();
  const scope = await tenantScope(ctx.client, d.scaivault.tenant, now);
  const lag = await lagOf(ctx.store, scope, resolve(d.filters, now).filters, s);
  const failing =
    s.failing_since !== null && now.getTime() - Date.parse(s.failing_since) >= ctx.settings.failingAfterMs;
  return {
    state: d.paused ? "paused" : failing ? "failing" : "active",
    position: formatPosition(s.position),
    lag_events: lag.events,
    lag_seconds: lag.oldest ? Math.max(0, (now.getTime() - Date.parse(lag.oldest)) / 1000) : 0,
    delivered: s.delivered,
    failed: s.failed,
    skipped_by_retention: s.skipped_by_retention,
    last_success_at: s.last_success_at,
    last_error: s.last_error,
    replaying_from: s.replay?.from ?? null,
  };
}

async function view(ctx: DeliveryContext, d: DestinationDoc, s: StateDoc): Promise<DestinationView> {
  return {
    destination_id: d.destination_id,
    name: d.name,
    type: d.type,
    format: d.format,
    filters: { ...d.filters },
    config: d.config,
    batch: d.batch,
    credentials_secret: d.credentials_secret,
    paused: d.paused,
    created_at: d.created_at,
    created_by: d.created_by,
    updated_at: d.updated_at,
    updated_by: d.updated_by,
    status: await status(ctx, d, s),
  };
}
