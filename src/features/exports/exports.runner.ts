/**
 * @module features/exports/runner
 * One export, as a stream with back-pressure end to end:
 *   point-in-time pages → formatter → gzip (optional) → SHA-256/byte meter → streaming upload.
 * The next page is fetched while the current one is written, and nothing is read from OpenSearch
 * faster than the upload takes it, so memory stays flat however large the export.
 *
 * After each completed file the position is checkpointed; a restarted worker resumes from there on
 * the same point in time (its keep-alive is renewed with every page). If the point in time is
 * gone, the job fails (snapshot_expired) rather than export a different set of events. Before the
 * manifest is written the files' counts must add up to the snapshot's exact total.
 */
import { createHash } from "node:crypto";
import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Client } from "@opensearch-project/opensearch";
import canonicalize from "canonicalize";
import type { Store } from "../../destinations/object-store.ts";
import type { SortKey } from "../../events/event.mapping.ts";
import { readDocument, type StoredEvent } from "../../events/event.mapping.ts";
import { isoMicros } from "../../events/time.ts";
import type { Filters } from "../../filters/filters.ts";
import { AUDIT_STREAM } from "../../opensearch/names.ts";
import { ExportFailure } from "./exports.errors.ts";
import { CONTENT_TYPES, fileExtension, fileHeader, formatEvents } from "./exports.format.ts";
import type { Checkpoint } from "./exports.jobs.ts";
import { snapshotCount, snapshotPage } from "./exports.query.ts";
import type { CreateExport, Manifest, ManifestFile } from "./exports.schema.ts";

/**
 * The tamper-evident log's part of an export (features/integrity implements it; the composition
 * root hands it over): records' leaf indexes, the checkpoint and multi-proof covering them, and the
 * manifest's signature. `until` is when to stop waiting for the sealer (epoch ms).
 */
export interface Attestor {
  leaves(tenant: string, ids: string[], until: number, signal: AbortSignal): Promise<(number | null)[]>;
  prove(
    tenant: string,
    set: [number, number][],
    until: number,
    signal: AbortSignal,
  ): Promise<{ log: string; checkpoint: { size: number; root_hash: string; note: string }; proof: string[] }>;
  sign(tenant: string, sha256: string): string;
}

/** How long an export waits for the sealer to append (and a checkpoint to cover) its newest records. */
const ATTEST_WAIT_MS = 30_000;

/** A file's records in order as runs of consecutive leaf indexes: [first leaf | null (no leaf), count]. */
export type LeafRuns = [number | null, number][];

export function addRuns(runs: LeafRuns, indexes: (number | null)[]): void {
  for (const i of indexes) {
    const last = runs.at(-1);
    if (last && (last[0] === null ? i === null : i !== null && last[0] + last[1] === i)) last[1]++;
    else runs.push([i, 1]);
  }
}

/** The leaves of all runs as sorted, disjoint intervals (the multi-proof's leaf set). */
export function leafIntervals(runs: LeafRuns): [number, number][] {
  const spans = runs
    .filter((r): r is [number, number] => r[0] !== null)
    .map(([first, n]) => [first, first + n] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of spans) {
    const last = out.at(-1);
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export interface RunOptions {
  client: Client;
  tenant: string;
  /** The tenant's retention cut-off when a new snapshot is taken (a resumed one keeps its own). */
  since: string;
  exportId: string;
  request: Pick<CreateExport, "format" | "compression" | "max_file_records" | "destination">;
  filters: Filters;
  store: Store;
  signal: AbortSignal;
  pageSize: number;
  pitKeepAlive: string;
  now: () => Date;
  /** Where a previous attempt got to (null: start a new snapshot). */
  checkpoint: Checkpoint | null;
  /** Durably records a checkpoint (and may throw if the job was cancelled or taken over). */
  saveCheckpoint(cp: Checkpoint, records: number): Promise<void>;
  /** Records written so far (cheap, called often; the caller persists it on its own schedule). */
  progress(records: number): void;
  /** Called right before manifest.json is written; throws if the job may no longer complete. */
  beforeManifest(): Promise<void>;
  /** Makes the export provable offline (none: the manifest carries no proof and no signature). */
  attest?: Attestor;
}

interface Hit {
  _source: unknown;
}

/** An OpenSearch error that means the point in time no longer exists (expired or deleted). */
function isMissingSnapshot(err: unknown): boolean {
  const e = err as { meta?: { statusCode?: number; body?: unknown } };
  return (
    e.meta?.statusCode === 404 &&
    JSON.stringify(e.meta.body ?? "").includes("search_context_missing_exception")
  );
}

/** Reads the snapshot in order, one page ahead of its consumer. */
class SnapshotReader {
  #buffer: StoredEvent[] = [];
  #pending: Promise<StoredEvent[]> | undefined;
  #exhausted = false;
  #last: SortKey | null;
  readonly #fetch: (after: SortKey | null) => Promise<StoredEvent[]>;
  readonly #size: number;

  constructor(fetch: (after: SortKey | null) => Promise<StoredEvent[]>, size: number, after: SortKey | null) {
    this.#fetch = fetch;
    this.#size = size;
    this.#last = after;
    this.#pending = this.#prefetch(after);
  }

  #prefetch(after: SortKey | null): Promise<StoredEvent[]> {
    const p = this.#fetch(after);
    p.catch(() => {}); // surfaced when awaited in take()
    return p;
  }

  /** Position of the last event handed out. */
  get position(): SortKey | null {
    return this.#last;
  }

  /** Whether another event follows (waits for the next page if needed). */
  async hasMore(): Promise<boolean> {
    await this.#fill();
    return this.#buffer.length > 0;
  }

  /** Up to `n` next events; an empty array at the end. */
  async take(n: number): Promise<StoredEvent[]> {
    await this.#fill();
    const out = this.#buffer.splice(0, n);
    const last = out.at(-1);
    if (last) this.#last = last.sortKey;
    return out;
  }

  async #fill(): Promise<void> {
    if (this.#buffer.length > 0 || !this.#pending) return;
    const page = await this.#pending;
    this.#pending = undefined;
    const last = page.at(-1);
    if (page.length === this.#size && last && !this.#exhausted) this.#pending = this.#prefetch(last.sortKey);
    else this.#exhausted = true;
    this.#buffer = page;
  }
}

function meter(): { stream: Transform; result: () => { bytes: number; sha256: string } } {
  const hash = createHash("sha256");
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ bytes, sha256: hash.digest("hex") }) };
}

/** Opens the point in time and counts it: the snapshot every file is cut from. */
async function openSnapshot(o: RunOptions): Promise<Checkpoint> {
  const snapshotAt = isoMicros(o.now());
  const pit = await o.client.createPit({ index: [AUDIT_STREAM], keep_alive: o.pitKeepAlive });
  const pitId = (pit.body as { pit_id: string }).pit_id;
  const count = await o.client.search({
    body: snapshotCount({ id: o.tenant, since: o.since }, o.filters, {
      id: pitId,
      keepAlive: o.pitKeepAlive,
    }) as never,
  });
  const total = (count.body.hits.total as { value: number }).value;
  return { pit_id: pitId, snapshot_at: snapshotAt, since: o.since, total, after: null, files: [] };
}

export async function closeSnapshot(client: Client, pitId: string): Promise<void> {
  await client.deletePit({ body: { pit_id: [pitId] } }).catch(() => {});
}

/** The object name of part `index`: `<prefix>part-00000.jsonl.gz`. */
export function partKey(request: RunOptions["request"], index: number): string {
  const ext = fileExtension(request.format, request.compression);
  return `${request.destination.prefix}part-${String(index).padStart(5, "0")}.${ext}`;
}

/** Adds the proof material (JSON lines) and the signature to a manifest. */
async function attest(a: Attestor, o: RunOptions, manifest: Manifest): Promise<void> {
  const runs = manifest.files.flatMap((f) => f.leaves ?? []);
  const set = leafIntervals(runs);
  if (set.length > 0) {
    // Not covered by a checkpoint in time (the sealer lags or is down): a plain error, so the
    // worker retries the job from its checkpoint, as after any transient failure.
    const proven = await a.prove(o.tenant, set, Date.now() + ATTEST_WAIT_MS, o.signal);
    manifest.integrity = {
      tenant: o.tenant,
      ...proven,
      unproven: runs.reduce((n, [first, count]) => n + (first === null ? count : 0), 0),
    };
  }
  const digest = createHash("sha256")
    .update(canonicalize(manifest) as string)
    .digest("hex");
  manifest.signature = a.sign(o.tenant, digest);
}

export const manifestKey = (request: RunOptions["request"]): string =>
  `${request.destination.prefix}manifest.json`;

/** Uploads one part: formats up to `max` events from the reader and streams them to `key`. */
async function writeFile(
  o: RunOptions,
  reader: SnapshotReader,
  key: string,
  counted: { records: number },
  leavesUntil: number,
): Promise<Omit<ManifestFile, "uri">> {
  const { format, compression, max_file_records: max } = o.request;
  let records = 0;
  // Only JSON lines are the API form a verifier can re-hash (CSV cells are guarded, not verbatim).
  const runs: LeafRuns | undefined = o.attest && format === "jsonl" ? [] : undefined;
  async function* chunks() {
    const header = fileHeader(format);
    if (header) yield Buffer.from(header);
    while (records < max) {
      const docs = await reader.take(Math.min(max - records, o.pageSize));
      if (docs.length === 0) return;
      if (runs && o.attest)
        addRuns(
          runs,
          await o.attest.leaves(
            o.tenant,
            docs.map((d) => d.event.id),
            leavesUntil,
            signal,
          ),
        );
      records += docs.length;
      counted.records += docs.length;
      o.progress(counted.records);
      yield Buffer.from(
        formatEvents(
          format,
          docs.map((d) => d.event),
          { tenant: o.tenant, ingested: docs.map((d) => d.ingested) },
        ),
      );
    }
  }
  const measured = meter();
  const body = new PassThrough();
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  const stages = [
    Readable.from(chunks(), { objectMode: false }),
    ...(compression === "gzip" ? [createGzip()] : []),
  ];
  const failed: unknown[] = [];
  const onFail = (err: unknown) => {
    failed.push(err);
    stop.abort(err);
  };
  await Promise.all([
    pipeline([...stages, measured.stream, body], { signal }).catch(onFail),
    o.store.put(key, body, { contentType: CONTENT_TYPES[format], signal }).catch(onFail),
  ]);
  if (failed.length > 0) throw o.signal.aborted ? o.signal.reason : failed[0];
  return { records, ...measured.result(), ...(runs ? { leaves: runs } : {}) };
}

/** Runs (or resumes) the export and returns its manifest, already written beside the files. */
export async function runExport(o: RunOptions): Promise<Manifest> {
  let cp = o.checkpoint ?? (await openSnapshot(o));
  if (!o.checkpoint) await o.saveCheckpoint(cp, 0);

  const fetchPage = async (after: SortKey | null): Promise<StoredEvent[]> => {
    try {
      const res = await o.client.search({
        body: snapshotPage({ id: o.tenant, since: cp.since }, o.filters, {
          pitId: cp.pit_id,
          keepAlive: o.pitKeepAlive,
          size: o.pageSize,
          after,
        }) as never,
        // Only the documents: no ids, scores, sort values or the long PIT id in every response.
        filter_path: ["hits.hits._source"],
      });
      // With filter_path, an empty page has no `hits` at all.
      return ((res.body.hits?.hits ?? []) as unknown as Hit[]).map((h) => readDocument(h._source));
    } catch (err) {
      if (isMissingSnapshot(err))
        throw new ExportFailure(
          "snapshot_expired",
          "the point-in-time snapshot of this export expired before it finished (the service was down longer than EXPORT_PIT_KEEP_ALIVE); start a new export",
        );
      throw err;
    }
  };

  const leavesUntil = Date.now() + ATTEST_WAIT_MS;
  const reader = new SnapshotReader(fetchPage, o.pageSize, cp.after);
  const counted = { records: cp.files.reduce((n, f) => n + f.records, 0) };
  o.progress(counted.records);
  while (await reader.hasMore()) {
    const key = partKey(o.request, cp.files.length);
    const file = await writeFile(o, reader, key, counted, leavesUntil);
    cp = { ...cp, after: reader.position, files: [...cp.files, { uri: o.store.uri(key), ...file }] };
    await o.saveCheckpoint(cp, counted.records);
  }

  const total = cp.files.reduce((n, f) => n + f.records, 0);
  if (total !== cp.total)
    throw new ExportFailure(
      "snapshot_mismatch",
      `the files hold ${total} events but the snapshot has ${cp.total}; the export is incomplete and no manifest was written`,
    );
  const manifest: Manifest = {
    export_id: o.exportId,
    format: o.request.format,
    compression: o.request.compression,
    snapshot_at: cp.snapshot_at,
    files: cp.files,
    total_records: total,
  };
  if (o.attest) await attest(o.attest, o, manifest);
  await o.beforeManifest();
  await o.store.put(
    manifestKey(o.request),
    Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]),
    {
      contentType: "application/json",
      signal: o.signal,
    },
  );
  return manifest;
}
