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

export const manifestKey = (request: RunOptions["request"]): string =>
  `${request.destination.prefix}manifest.json`;

/** Uploads one part: formats up to `max` events from the reader and streams them to `key`. */
async function writeFile(
  o: RunOptions,
  reader: SnapshotReader,
  key: string,
  counted: { records: number },
): Promise<Omit<ManifestFile, "uri">> {
  const { format, compression, max_file_records: max } = o.request;
  let records = 0;
  async function* chunks() {
    const header = fileHeader(format);
    if (header) yield Buffer.from(header);
    while (records < max) {
      const docs = await reader.take(Math.min(max - records, o.pageSize));
      if (docs.length === 0) return;
      records += docs.length;
      counted.records += docs.length;
      o.progress(counted.records);
      yield Buffer.from(
        formatEvents(
          format,
          docs.map((d) => d.event),
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
  return { records, ...measured.result() };
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

  const reader = new SnapshotReader(fetchPage, o.pageSize, cp.after);
  const counted = { records: cp.files.reduce((n, f) => n + f.records, 0) };
  o.progress(counted.records);
  while (await reader.hasMore()) {
    const key = partKey(o.request, cp.files.length);
    const file = await writeFile(o, reader, key, counted);
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
