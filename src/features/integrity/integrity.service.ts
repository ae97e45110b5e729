/**
 * @module features/integrity/service
 * Reads a tenant's log for the API: checkpoints, inclusion and consistency proofs, all from the
 * stored hashes and never past the committed size; verification runs (integrity.verify), kept in
 * the integrity index. The only place this feature's routes talk to OpenSearch.
 */
import type { Client } from "@opensearch-project/opensearch";
import { monotonicFactory } from "ulid";
import { Conflict, Internal, invalidField, NotFound, NotYet } from "../../errors.ts";
import { isoMicros } from "../../events/time.ts";
import type { Logger } from "../../logger.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX } from "../../opensearch/names.ts";
import { searchAudit as search } from "../../opensearch/search.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { getOrNull, LogDamaged, readState, storedHashReader } from "./integrity.log.ts";
import {
  CHUNK,
  checkpointId,
  eventSearch,
  latestCheckpointSearch,
  leafSearch,
  refusedSearch,
  type StoredCheckpoint,
  verificationId,
} from "./integrity.query.ts";
import {
  emptyReport,
  type VerifyContext,
  type VerifyReport,
  type VerifySpec,
  verify,
} from "./integrity.verify.ts";
import {
  consistencyProof,
  type HashReader,
  inclusionProof,
  storedHashCount,
  storedHashIndex,
  verifyInclusion,
} from "./tlog.ts";

/** How long a client waits for an event to be sealed and covered by a checkpoint. */
const RETRY_SECONDS = 10;

type Hits<T> = { hits: { hits: { _source: T }[] } };

/** The newest checkpoint, or the one signed at `size`; NotFound when there is none. */
export async function checkpoint(client: Client, tenant: Tenant, size?: number): Promise<StoredCheckpoint> {
  if (size !== undefined) {
    const doc = await getOrNull(client, checkpointId(tenant.id, size));
    if (!doc) throw new NotFound(`no checkpoint was signed at size ${size}`);
    return doc.data as StoredCheckpoint;
  }
  const res = (await search(client, latestCheckpointSearch(tenant), INTEGRITY_INDEX)) as Hits<{
    data: StoredCheckpoint;
  }>;
  const hit = res.hits.hits[0];
  if (!hit) throw new NotFound("nothing of this tenant's is sealed yet");
  return hit._source.data;
}

const b64 = (b: Buffer) => b.toString("base64");

/** The tenant's stored hashes, bounded by what its committed state stores. */
async function reader(client: Client, tenant: Tenant) {
  const state = await readState(client, tenant.id);
  const stored = storedHashReader(client, tenant.id, storedHashCount(state.size));
  const read: HashReader = (xs) =>
    stored(xs).catch((err) => {
      // The log's own documents were altered or lost: said plainly, never a proof from them.
      if (err instanceof LogDamaged)
        throw new Internal(`this tenant's integrity log is damaged: ${err.message}`);
      throw err;
    });
  return { size: state.size, read };
}

export async function inclusion(client: Client, tenant: Tenant, eventId: string, size?: number) {
  const found = (await search(client, leafSearch(tenant, eventId), INTEGRITY_INDEX)) as Hits<{
    chunk: number;
    ids: string[];
  }>;
  const chunk = found.hits.hits[0]?._source;
  const at = chunk ? chunk.ids.indexOf(eventId) : -1;
  if (!chunk || at < 0) {
    const event = (await search(client, eventSearch(tenant, eventId), AUDIT_STREAM)) as Hits<unknown>;
    if (event.hits.hits.length === 0) throw new NotFound(`no event ${eventId}`);
    const refused = (await search(
      client,
      refusedSearch(tenant, 1, [eventId]),
      INTEGRITY_INDEX,
    )) as Hits<unknown>;
    if (refused.hits.hits.length > 0)
      throw new Conflict(
        `event ${eventId} is not in the log and never will be: the sealer refused it, as it was not written through this service's ingest`,
      );
    throw new NotYet(`event ${eventId} is not sealed yet`, RETRY_SECONDS);
  }
  const leafIndex = chunk.chunk * CHUNK + at;
  const cp = await checkpoint(client, tenant, size);
  if (leafIndex >= cp.size) {
    if (size !== undefined) throw invalidField("size", `is too small: the event is leaf ${leafIndex}`);
    throw new NotYet(`event ${eventId} is sealed but no checkpoint covers it yet`, RETRY_SECONDS);
  }
  const { read } = await reader(client, tenant);
  const [leaf] = (await read([storedHashIndex(0, leafIndex)])) as [Buffer];
  const proof = await inclusionProof(leafIndex, cp.size, read);
  // Never hand out a proof that does not hold against the signed root: stored hashes that were
  // altered (or overwritten) are reported, not passed on.
  if (!verifyInclusion(leaf, leafIndex, cp.size, proof, Buffer.from(cp.root, "base64")))
    throw new Internal(
      `this tenant's integrity log is damaged: leaf ${leafIndex} does not prove against checkpoint ${cp.size}`,
    );
  return {
    event_id: eventId,
    leaf_index: leafIndex,
    tree_size: cp.size,
    leaf_hash: b64(leaf),
    proof: proof.map(b64),
    checkpoint: cp,
  };
}

export async function consistency(client: Client, tenant: Tenant, from: number, to: number) {
  const { size, read } = await reader(client, tenant);
  if (from > to) throw invalidField("from_size", "is past to_size");
  // A size the log has not reached is a tree that does not exist (yet).
  if (to > size) throw new NotFound(`this tenant's log holds ${size} events: it has no tree of ${to}`);
  return { from_size: from, to_size: to, proof: (await consistencyProof(from, to, read)).map(b64) };
}

/** A run not heard from for this long lost its replica (a crash or a restart): reported failed. */
const STALE_MS = 60_000;
/** Progress is written at most this often. */
const PROGRESS_MS = 2_000;
const newRunId = monotonicFactory();

export interface VerificationRun {
  verification_id: string;
  status: "running" | "completed" | "failed";
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /** What was asked: leaves [from_leaf, to_leaf) or the window [from, to). */
  request: Record<string, unknown>;
  error: string | null;
  report: VerifyReport;
}

/**
 * Starts a verification run on this replica and returns it as stored (`running`). Its progress is
 * written as it goes; a run whose replica stops is reported failed (start another: runs only read).
 */
export async function startVerification(
  client: Client,
  tenant: Tenant,
  spec: VerifySpec,
  ctx: VerifyContext & { log: Logger; now: () => Date },
): Promise<VerificationRun> {
  const at = isoMicros(ctx.now());
  const run: VerificationRun = {
    verification_id: `ver_${newRunId()}`,
    status: "running",
    created_at: at,
    updated_at: at,
    finished_at: null,
    request:
      spec.kind === "leaves"
        ? { from_leaf: spec.fromLeaf, to_leaf: spec.toLeaf }
        : { from: spec.from, to: spec.to },
    error: null,
    report: emptyReport(),
  };
  const save = (r: VerificationRun) =>
    client.index({
      index: INTEGRITY_INDEX,
      id: verificationId(tenant.id, r.verification_id),
      refresh: true,
      body: { kind: "verification", scaivault: { tenant: tenant.id }, at: r.created_at, data: r } as never,
    });
  await save(run);
  let saved = Date.now();
  const progress = async (report: VerifyReport) => {
    if (Date.now() - saved < PROGRESS_MS) return;
    saved = Date.now();
    await save({ ...run, report, updated_at: isoMicros(ctx.now()) });
  };
  void verify(client, tenant, spec, { ...ctx, progress })
    .then((report) => ({ ...run, status: "completed" as const, report }))
    .catch((err: unknown) => {
      ctx.log.error({ err, tenant: tenant.id, verification: run.verification_id }, "verification run failed");
      return {
        ...run,
        status: "failed" as const,
        error: "the run failed on an internal error; start another",
      };
    })
    .then((done) => {
      const end = isoMicros(ctx.now());
      return save({ ...done, updated_at: end, finished_at: end });
    })
    .catch((err: unknown) => ctx.log.error({ err }, "could not store a verification run's outcome"));
  return run;
}

export async function getVerification(
  client: Client,
  tenant: Tenant,
  id: string,
  now: Date,
): Promise<VerificationRun> {
  const doc = await getOrNull(client, verificationId(tenant.id, id));
  if (!doc) throw new NotFound(`no verification ${id}`);
  const run = doc.data as VerificationRun;
  if (run.status === "running" && now.getTime() - Date.parse(run.updated_at) > STALE_MS)
    return {
      ...run,
      status: "failed",
      error: "the replica running it stopped before it finished; start another",
    };
  return run;
}
