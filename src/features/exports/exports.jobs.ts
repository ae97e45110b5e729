/**
 * @module features/exports/jobs
 * Export jobs as documents in OpenSearch (`scaivault-exports`, `_id` = tenant:export_id), and the
 * one way a worker changes a job it holds: `JobHandle.write`, a conditional update on
 * seq_no/primary_term. A conflict means someone else wrote the job (a cancel, or another worker
 * that took over an expired lease); the handle rereads it and says which.
 */
import type { Client } from "@opensearch-project/opensearch";
import type { SortKey } from "../../events/event.mapping.ts";
import type { RawFilters } from "../../filters/filters.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { EXPORT_JOBS_INDEX } from "../../opensearch/names.ts";
import type { CreateExport, ExportStatus, ExportView, Manifest, ManifestFile } from "./exports.schema.ts";

/** Where a running export is: enough to resume it on another process. */
export interface Checkpoint {
  pit_id: string;
  snapshot_at: string;
  /** The tenant's retention cut-off when the snapshot was taken: part of what the snapshot holds. */
  since: string | null;
  /** Events in the snapshot, counted exactly when it was taken. */
  total: number;
  /** Position of the last event in the last completed file (null: from the start). */
  after: SortKey | null;
  files: ManifestFile[];
}

export interface JobDoc {
  scaivault: { tenant: string };
  export_id: string;
  status: ExportStatus;
  created_by: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  updated_at: string;
  /** As requested, with the filters' relative times resolved when the job was created. */
  request: Omit<CreateExport, "filters"> & { filters: RawFilters };
  progress: { records: number; estimated_total: number | null };
  error: { code: string; message: string } | null;
  manifest: Manifest | null;
  lease: { owner: string | null; expires_at: string | null };
  attempts: number;
  checkpoint: Checkpoint | null;
}

export const TERMINAL: readonly ExportStatus[] = ["completed", "failed", "cancelled"];

export function toView(d: JobDoc): ExportView {
  return {
    export_id: d.export_id,
    status: d.status,
    format: d.request.format,
    compression: d.request.compression,
    filters: { ...d.request.filters },
    destination: d.request.destination,
    max_file_records: d.request.max_file_records,
    created_at: d.created_at,
    started_at: d.started_at,
    completed_at: d.completed_at,
    progress: d.progress,
    error: d.error,
    manifest: d.manifest,
  };
}

/** The job was cancelled while this worker held it. */
export class JobCancelled extends Error {
  override name = "JobCancelled";
}
/** Another worker holds the job now (this one's lease ran out). */
export class LeaseLost extends Error {
  override name = "LeaseLost";
}

interface Versioned {
  _seq_no: number;
  _primary_term: number;
}

/** A claimed job: its last known version, and serialized conditional writes. */
export class JobHandle {
  readonly id: string;
  doc: JobDoc;
  #version: Versioned;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #client: Client;
  readonly #owner: string;

  constructor(client: Client, id: string, doc: JobDoc, version: Versioned, owner: string) {
    this.#client = client;
    this.id = id;
    this.doc = doc;
    this.#version = version;
    this.#owner = owner;
  }

  /**
   * Applies `patch` if nobody else wrote the job since this worker last did. On a conflict it
   * rereads: cancelled → JobCancelled, another owner → LeaseLost, else (a stale version) retries.
   * Writes are queued so the heartbeat and a checkpoint never race each other.
   */
  write(patch: Partial<JobDoc>): Promise<void> {
    const run = this.#queue.then(() => this.#write(patch));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #write(patch: Partial<JobDoc>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.#client.update({
          index: EXPORT_JOBS_INDEX,
          id: this.id,
          if_seq_no: this.#version._seq_no,
          if_primary_term: this.#version._primary_term,
          body: { doc: patch as never },
        });
        this.#version = res.body as unknown as Versioned;
        this.doc = { ...this.doc, ...patch };
        return;
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 3) throw err;
        const current = await this.#client.get({ index: EXPORT_JOBS_INDEX, id: this.id });
        const doc = current.body._source as unknown as JobDoc;
        this.#version = current.body as unknown as Versioned;
        this.doc = doc;
        if (doc.status === "cancelled") throw new JobCancelled("the export was cancelled");
        if (doc.lease.owner !== this.#owner) throw new LeaseLost("another worker took the export over");
      }
    }
  }
}
