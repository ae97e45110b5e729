/**
 * @module features/integrity/sealer-job
 * The sealer: every INTEGRITY_SEAL_INTERVAL_MS, one replica (the holder of a lease, as the purge's)
 * follows the audit store in store order from its committed watermark — each shard's operations by
 * sequence number, as the live tail and the rollup read them, so none is skipped or read twice —
 * and appends every event to its tenant's Merkle log (existing events first, oldest stored first).
 * Only events ingest wrote become evidence: one whose ingest seal does not hold (written or changed
 * around the API), or whose id is a leaf already (stored again), is refused — kept as a `refused`
 * record for verifications — except events stored before the first run, under a signed legacy mark.
 *
 * Crash safety without a fork or a double append: a page's chunks are written before the states
 * that make them part of a log, and each state records the store position its log has reached; a
 * page re-read after a crash skips, per tenant, what that tenant's log already holds. Only then is
 * the watermark committed (conditionally: it only moves forward). Then each log that grew gets a
 * signed checkpoint, at most one per tenant every INTEGRITY_CHECKPOINT_INTERVAL_MS.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@opensearch-project/opensearch";
import { readDocument } from "../../events/event.mapping.ts";
import { leafData, type SealKey, sealHolds, storedSeal } from "../../events/leaf.ts";
import { isoMicros } from "../../events/time.ts";
import { takeLease } from "../../jobs/lease.ts";
import { PeriodicJob } from "../../jobs/periodic.ts";
import type { Logger } from "../../logger.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { AUDIT_STREAM, INTEGRITY_INDEX, TENANTS_INDEX } from "../../opensearch/names.ts";
import {
  type BackingIndex,
  type Position,
  reachable,
  refresh,
  storeProgress,
} from "../../opensearch/progress.ts";
import { sealKeyOf } from "./integrity.keys.ts";
import { append, readChunks, readStates, stateDocument, type Version } from "./integrity.log.ts";
import {
  CHUNK,
  checkpointId,
  isBefore,
  type LogState,
  leavesWithIds,
  pendingSearch,
  refusedId,
  type StoredCheckpoint,
  storeOrderSearch,
} from "./integrity.query.ts";
import { checkpointText, NoteError, openNote, type Signer, signNote, type Verifier } from "./note.ts";

export const SEALER_LEASE_ID = "sealer-lease";
const SEALER_WATERMARK_ID = "sealer-watermark";

export interface SealerDeps {
  client: Client;
  log: Logger;
  signer: Signer;
  /** Retired signers, whose signature on the legacy mark still counts. */
  retired?: Verifier[];
  /** `<origin>/<tenant>` names each tenant's log in its checkpoints. */
  origin: string;
  intervalMs: number;
  checkpointIntervalMs: number;
  now?: () => Date;
  /** Events read per page (tests make it small). */
  pageSize?: number;
  stream?: string;
}

export interface SealRun {
  ran: boolean;
  /** Events appended by this run. */
  sealed: number;
  checkpoints: number;
}

interface Hit {
  _seq_no: number;
  _source: unknown;
}

interface Leaf {
  id: string;
  time: string;
  data: Buffer;
  seq: number;
  /** Why it is not evidence, when its seal does not hold. */
  refusal: Refusal | null;
}

type Refusal = "duplicate_id" | "no_seal" | "bad_seal";

/**
 * Events stored before this service first sealed (before ingest sealed events) are appended
 * without a seal: per backing index generation, the next sequence number per shard then. Signed,
 * so it cannot be moved to cover a document written later.
 */
type Legacy = Map<number, number[]>;

/** Ids this run appended are remembered up to this many (then the chunks are refreshed instead). */
const APPENDED_MEMORY = 100_000;

/** A document to write; with a version, only over it (null: only if absent). */
interface Write {
  id: string;
  doc: unknown;
  version?: Version;
}

/** The points of a page's commit a test can stop or hold a run at. */
export type SealerStep = "appended" | "chunks" | "states" | "watermark";

export class SealerJob {
  readonly id = `sealer-${randomUUID()}`;
  readonly #deps: SealerDeps;
  readonly #now: () => Date;
  readonly #job: PeriodicJob;
  /** Ingest seals events with this key (derived from the signer's): only those are appended, see Legacy. */
  readonly #sealKey: SealKey;
  /** `tenant\0id` of what this run appended: not searchable until the integrity index refreshes. */
  readonly #appended = new Set<string>();
  /** Tests only: called after each step; throwing there is a crash, waiting there a stall. */
  afterStep: ((step: SealerStep) => Promise<void>) | undefined;

  constructor(deps: SealerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#sealKey = sealKeyOf(deps.signer);
    this.#job = new PeriodicJob({
      name: "integrity sealer",
      intervalMs: deps.intervalMs,
      run: () => this.runOnce(),
      log: deps.log,
    });
  }

  start(): void {
    this.#job.start();
  }

  async stop(): Promise<void> {
    await this.#job.stop();
  }

  async runOnce(): Promise<SealRun> {
    if (!(await this.#lease())) return { ran: false, sealed: 0, checkpoints: 0 };
    const { client } = this.#deps;
    const stream = this.#deps.stream ?? AUDIT_STREAM;
    this.#appended.clear();
    let committed = await this.#watermark();
    const indices = await storeProgress({ client, stream }, committed.mark?.gen);
    // The very first run: what is stored now was stored before any ingest seal.
    if (!committed.mark && !committed.legacy) committed = { ...committed, legacy: this.#legacyNote(indices) };
    const legacy = this.#legacyOf(committed.legacy);
    const to = reachable(indices, committed.mark);
    let sealed = 0;
    if (to) {
      // Every operation up to the checkpoints read above becomes searchable.
      await refresh(client, stream);
      for (const index of indices.filter((i) => !committed.mark || i.gen >= committed.mark.gen)) {
        if (index.gen > to.gen) break;
        for (const [shard, progress] of index.shards.entries()) {
          const last = index.gen < to.gen ? progress.max : (to.seq[shard] ?? 0) - 1;
          for (;;) {
            const mark = committed.mark;
            const from = mark && mark.gen === index.gen ? (mark.seq[shard] ?? 0) : 0;
            if (from > last) break;
            const hits = await this.#read(index, shard, from, last);
            const next = hits.length ? (hits.at(-1) as Hit)._seq_no + 1 : last + 1;
            const position = advance(mark, index, shard, next);
            sealed += await this.#seal(index.gen, shard, hits, position, legacy);
            if (this.#appended.size > APPENDED_MEMORY) {
              await client.indices.refresh({ index: INTEGRITY_INDEX });
              this.#appended.clear();
            }
            committed = await this.#commit(committed, position);
            if (!(await this.#lease()))
              throw new Error("the sealer lease was lost mid-run; the next run resumes");
          }
        }
      }
      // Past a complete index: the watermark moves to where the next one starts.
      if (committed.mark && to.gen > committed.mark.gen) committed = await this.#commit(committed, to);
    }
    const checkpoints = await this.#checkpoints();
    return { ran: true, sealed, checkpoints };
  }

  async #read(index: BackingIndex, shard: number, from: number, to: number): Promise<Hit[]> {
    const res = await this.#deps.client.search({
      index: index.name,
      preference: `_shards:${shard}`,
      body: storeOrderSearch({ from, to }, this.#deps.pageSize ?? 1000) as never,
      filter_path: ["hits.hits._seq_no", "hits.hits._source"],
    });
    return ((res.body as { hits?: { hits?: Hit[] } }).hits?.hits ?? []) as Hit[];
  }

  /** Appends a page of one shard's events to their tenants' logs; returns how many it appended. */
  async #seal(gen: number, shard: number, hits: Hit[], position: Position, legacy: Legacy): Promise<number> {
    const { client } = this.#deps;
    const byTenant = new Map<string, Leaf[]>();
    for (const hit of hits) {
      const stored = readDocument(hit._source);
      // A document without a tenant is nobody's evidence (and no reader shows it).
      if (!stored.tenant) continue;
      const leaves = byTenant.get(stored.tenant) ?? [];
      const data = leafData(stored.tenant, stored.event);
      const seal = storedSeal(hit._source);
      const old = hit._seq_no < (legacy.get(gen)?.[shard] ?? 0);
      leaves.push({
        id: stored.event.id,
        time: stored.event.timestamp,
        data,
        seq: hit._seq_no,
        refusal:
          sealHolds(this.#sealKey, data, seal) || (old && seal === undefined)
            ? null
            : seal === undefined
              ? "no_seal"
              : "bad_seal",
      });
      byTenant.set(stored.tenant, leaves);
    }
    if (byTenant.size === 0) return 0;
    const states = await readStates(client, [...byTenant.keys()]);
    const fresh = new Map<string, Leaf[]>();
    for (const [tenant, all] of byTenant) {
      const { state } = states.get(tenant) as { state: LogState };
      // After a crash: what this tenant's log already holds from this page.
      const leaves = all.filter((l) => !isBefore({ gen, shard, seq: l.seq }, state.through));
      if (leaves.length > 0) fresh.set(tenant, leaves);
    }
    const leafAlready = await this.#leafIds(fresh, states);
    const chunks: Write[] = [];
    const next: { tenant: string; state: LogState; version: Version; before: number }[] = [];
    for (const [tenant, candidates] of fresh) {
      const { state, version } = states.get(tenant) as { state: LogState; version: Version };
      const leaves: Leaf[] = [];
      for (const l of candidates) {
        const key = `${tenant}\u0000${l.id}`;
        const refusal = l.refusal ?? (leafAlready.has(key) ? "duplicate_id" : null);
        if (!refusal) {
          leafAlready.add(key);
          this.#appended.add(key);
          leaves.push(l);
          continue;
        }
        // Not written by ingest (no seal, or one that does not hold: written or changed around the
        // API), or an id seen again (events are only ever created: re-indexed or copied around
        // the API). Not evidence; kept for verifications to name.
        const at = { gen, shard, seq: l.seq };
        chunks.push({
          id: refusedId(tenant, at),
          doc: {
            kind: "refused",
            scaivault: { tenant },
            ids: [l.id],
            at: isoMicros(this.#now()),
            data: { reason: refusal, position: at, time: l.time },
          },
        });
        this.#deps.log.warn(
          { tenant, event_id: l.id, position: at, reason: refusal },
          "an event not written by this service's ingest (or stored again) was not sealed",
        );
      }
      if (leaves.length === 0) {
        next.push({ tenant, state: { ...state, through: position }, version, before: state.size });
        continue;
      }
      const stored = await readChunks(client, tenant, state.size, leaves.length);
      const appended = await append(tenant, state, leaves, stored.partial);
      chunks.push(...appended.chunks.map((c) => ({ ...c, version: stored.versions.get(c.id) ?? null })));
      next.push({ tenant, state: { ...appended.state, through: position }, version, before: state.size });
    }
    await this.#after("appended");
    await this.#bulk(chunks);
    await this.#after("chunks");
    await this.#bulk(next.map(({ tenant, state, version }) => stateDocument(tenant, state, version)));
    await this.#after("states");
    return next.reduce((n, { state, before }) => n + state.size - before, 0);
  }

  /**
   * Which of these events' ids are leaves of their tenant's committed log already: `tenant\0id`.
   * What this run appended is known here; earlier runs' chunks are searchable (each run ends with a
   * refresh). Chunks past a log's committed size (a crashed run's) do not count.
   */
  async #leafIds(fresh: Map<string, Leaf[]>, states: Map<string, { state: LogState }>): Promise<Set<string>> {
    const known = new Set<string>();
    const ids = [...new Set([...fresh.values()].flatMap((ls) => ls.map((l) => l.id)))];
    if (ids.length === 0) return known;
    for (const [tenant, leaves] of fresh)
      for (const l of leaves)
        if (this.#appended.has(`${tenant}\u0000${l.id}`)) known.add(`${tenant}\u0000${l.id}`);
    const res = await this.#deps.client.search({
      index: INTEGRITY_INDEX,
      body: leavesWithIds(ids) as never,
    });
    const asked = new Set(ids);
    for (const hit of res.body.hits.hits as unknown as {
      _source: { scaivault: { tenant: string }; chunk: number; ids: string[] };
    }[]) {
      const { scaivault, chunk, ids: chunkIds } = hit._source;
      const size = states.get(scaivault.tenant)?.state.size ?? 0;
      chunkIds.forEach((id, i) => {
        if (asked.has(id) && chunk * CHUNK + i < size) known.add(`${scaivault.tenant}\u0000${id}`);
      });
    }
    return known;
  }

  /** Writes documents; one with a version only over that version (null: only if absent), or the run fails. */
  async #bulk(docs: Write[]): Promise<void> {
    if (docs.length === 0) return;
    const action = ({ id, version }: Write) =>
      version === undefined
        ? { index: { _index: INTEGRITY_INDEX, _id: id } }
        : version === null
          ? { create: { _index: INTEGRITY_INDEX, _id: id } }
          : {
              index: {
                _index: INTEGRITY_INDEX,
                _id: id,
                if_seq_no: version.seqNo,
                if_primary_term: version.primaryTerm,
              },
            };
    const body = docs.flatMap((d) => [action(d), d.doc]);
    const res = await this.#deps.client.bulk({ body: body as never, refresh: false });
    type Item = { status: number; error?: { type?: string } };
    const items = (res.body.items as Record<string, Item>[]).map((i) => Object.values(i)[0] as Item);
    const failed = items.filter((i) => i.status >= 300);
    if (failed.length > 0)
      throw new Error(
        `could not write ${failed.length} integrity documents (${failed[0]?.error?.type ?? "?"}); ` +
          "on a version conflict another sealer wrote them meanwhile, and nothing of this page is committed for those logs",
      );
  }

  /** Signs a checkpoint for each log grown past its newest one, unless that one is younger than the interval. */
  async #checkpoints(): Promise<number> {
    const { client, signer, origin, checkpointIntervalMs, intervalMs } = this.#deps;
    await client.indices.refresh({ index: INTEGRITY_INDEX });
    const now = this.#now();
    let signed = 0;
    let after: string | undefined;
    for (;;) {
      const res = await client.search({ index: INTEGRITY_INDEX, body: pendingSearch(500, after) as never });
      const hits = res.body.hits.hits as unknown as {
        _source: { scaivault: { tenant: string }; data: LogState };
        _seq_no: number;
        _primary_term: number;
      }[];
      const checkpoints: Write[] = [];
      const states: Write[] = [];
      for (const { _source, _seq_no, _primary_term } of hits) {
        const tenant = _source.scaivault.tenant;
        const state = _source.data;
        // One run early rather than one late: no append waits longer than the interval.
        const due =
          !state.checkpointedAt ||
          now.getTime() - Date.parse(state.checkpointedAt) >= checkpointIntervalMs - intervalMs;
        if (!due) continue;
        const text = checkpointText({
          origin: `${origin}/${tenant}`,
          size: state.size,
          root: Buffer.from(state.root, "base64"),
          extensions: [],
        });
        const checkpoint: StoredCheckpoint = {
          size: state.size,
          root: state.root,
          timestamp: isoMicros(now),
          note: signNote(text, [signer]),
        };
        checkpoints.push({
          id: checkpointId(tenant, state.size),
          doc: {
            kind: "checkpoint",
            scaivault: { tenant },
            size: state.size,
            at: checkpoint.timestamp,
            data: checkpoint,
          },
        });
        states.push(
          stateDocument(
            tenant,
            { ...state, checkpointed: state.size, checkpointedAt: checkpoint.timestamp },
            { seqNo: _seq_no, primaryTerm: _primary_term },
          ),
        );
      }
      // Checkpoints first: a state never claims one that was not written.
      await this.#bulk(checkpoints);
      await this.#bulk(states);
      signed += checkpoints.length;
      if (hits.length < 500) break;
      after = hits.at(-1)?._source.scaivault.tenant;
    }
    if (signed > 0) await client.indices.refresh({ index: INTEGRITY_INDEX });
    return signed;
  }

  async #after(step: SealerStep): Promise<void> {
    await this.afterStep?.(step);
  }

  async #watermark(): Promise<Watermark> {
    const res = await this.#deps.client
      .get({ index: INTEGRITY_INDEX, id: SEALER_WATERMARK_ID })
      .catch((err) => (statusOf(err) === 404 ? null : Promise.reject(err)));
    if (!res) return { mark: null, legacy: null };
    const data = (res.body._source as { data?: { mark?: Position; legacy?: string } }).data;
    return {
      mark: data?.mark ?? null,
      legacy: typeof data?.legacy === "string" ? data.legacy : null,
      seqNo: res.body._seq_no as number,
      primaryTerm: res.body._primary_term as number,
    };
  }

  /** The legacy mark's signed note, made from the store's progress when the first run starts. */
  #legacyNote(indices: BackingIndex[]): string {
    const mark = Object.fromEntries(indices.map((i) => [i.gen, i.shards.map((s) => s.max + 1)]));
    return signNote(`${this.#deps.origin}\nlegacy before ${JSON.stringify(mark)}\n`, [this.#deps.signer]);
  }

  /** The legacy mark, if its note verifies (else nothing is legacy: every event needs its seal). */
  #legacyOf(note: string | null): Legacy {
    if (!note) return new Map();
    try {
      const { text } = openNote(note, [this.#deps.signer, ...(this.#deps.retired ?? [])]);
      const m = /^[^\n]+\nlegacy before (\{.*\})\n$/.exec(text);
      const parsed = m ? (JSON.parse(m[1] as string) as Record<string, number[]>) : {};
      return new Map(Object.entries(parsed).map(([gen, seq]) => [Number(gen), seq]));
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      this.#deps.log.error("the sealer's legacy mark does not verify: every event now needs its ingest seal");
      return new Map();
    }
  }

  async #commit(committed: Watermark, mark: Position): Promise<Watermark> {
    const res = await this.#deps.client.index({
      index: INTEGRITY_INDEX,
      id: SEALER_WATERMARK_ID,
      body: {
        kind: "watermark",
        at: isoMicros(this.#now()),
        data: { mark, ...(committed.legacy ? { legacy: committed.legacy } : {}) },
      } as never,
      ...(committed.seqNo !== undefined
        ? { if_seq_no: committed.seqNo, if_primary_term: committed.primaryTerm as number }
        : { op_type: "create" as const }),
    });
    await this.#after("watermark");
    return {
      mark,
      legacy: committed.legacy,
      seqNo: res.body._seq_no as number,
      primaryTerm: res.body._primary_term as number,
    };
  }

  #lease(): Promise<boolean> {
    const now = this.#now();
    const until = new Date(now.getTime() + Math.max(this.#deps.intervalMs * 2, 10_000));
    return takeLease(this.#deps.client, { index: TENANTS_INDEX, id: SEALER_LEASE_ID }, this.id, now, until);
  }
}

interface Watermark {
  mark: Position | null;
  /** The signed legacy mark (see Legacy). */
  legacy: string | null;
  seqNo?: number;
  primaryTerm?: number;
}

/** `mark` with one shard of `index` moved to `next` (a new index starts every shard at 0). */
function advance(mark: Position | null, index: BackingIndex, shard: number, next: number): Position {
  const seq = mark && mark.gen === index.gen ? [...mark.seq] : index.shards.map(() => 0);
  seq[shard] = next;
  return { gen: index.gen, seq };
}
