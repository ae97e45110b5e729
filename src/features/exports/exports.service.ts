/**
 * @module features/exports/service
 * What the API does with export jobs: create, read, list, cancel. Every lookup is by
 * `scopedId(tenant, id)` or through `scoped()`, so another tenant's job is simply not found.
 */
import type { Client } from "@opensearch-project/opensearch";
import { monotonicFactory } from "ulid";
import { refusedEndpoints } from "../../destinations/object-store.ts";
import { Conflict, InvalidInput, NotFound, Unavailable } from "../../errors.ts";
import { isoMicros } from "../../events/time.ts";
import { resolve, toStored } from "../../filters/filters.ts";
import type { Principal } from "../../http/env.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { EXPORT_JOBS_INDEX } from "../../opensearch/names.ts";
import { scopedId } from "../../tenancy/tenant-scope.ts";
import { type JobDoc, TERMINAL } from "./exports.jobs.ts";
import { jobsList } from "./exports.query.ts";
import type { CreateExport, ExportStatus } from "./exports.schema.ts";

const newUlid = monotonicFactory();
export const EXPORT_ID = /^exp_[0-9A-HJKMNP-TV-Z]{26}$/;

/** Checks the request beyond its shape (custom endpoints), resolves its filters' relative times, and stores a pending job. */
export async function createExport(
  client: Client,
  principal: Principal,
  req: CreateExport,
  opts: { now: Date; allowlist: readonly string[] },
): Promise<JobDoc> {
  const refused = refusedEndpoints(req.destination, opts.allowlist);
  if (refused.length > 0) throw new InvalidInput("the export request is invalid", refused);
  // The job keeps the window it was created with, whenever it runs or resumes.
  const resolved = toStored(resolve(req.filters, opts.now).filters);

  const created = isoMicros(opts.now);
  const doc: JobDoc = {
    scaivault: { tenant: principal.tenant },
    export_id: `exp_${newUlid(opts.now.getTime())}`,
    status: "pending",
    created_by: principal.subject,
    created_at: created,
    started_at: null,
    completed_at: null,
    updated_at: created,
    request: { ...req, filters: resolved },
    progress: { records: 0, estimated_total: null },
    error: null,
    manifest: null,
    lease: { owner: null, expires_at: null },
    attempts: 0,
    checkpoint: null,
  };
  await client.index({
    index: EXPORT_JOBS_INDEX,
    id: scopedId(principal.tenant, doc.export_id),
    op_type: "create",
    refresh: "wait_for", // the job is listed as soon as the client has its id
    body: doc as never,
  });
  return doc;
}

async function load(
  client: Client,
  tenant: string,
  id: string,
): Promise<{ doc: JobDoc; seq: number; term: number } | undefined> {
  if (!EXPORT_ID.test(id)) return undefined;
  try {
    const res = await client.get({ index: EXPORT_JOBS_INDEX, id: scopedId(tenant, id) });
    const doc = res.body._source as unknown as JobDoc;
    if (doc.scaivault.tenant !== tenant) return undefined;
    return { doc, seq: res.body._seq_no as number, term: res.body._primary_term as number };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

const notFound = (id: string) => new NotFound(`no export ${id}`);

export async function getExport(client: Client, tenant: string, id: string): Promise<JobDoc> {
  const found = await load(client, tenant, id);
  if (!found) throw notFound(id);
  return found.doc;
}

export async function listExports(
  client: Client,
  tenant: string,
  page: { limit: number; status?: ExportStatus; after?: [string, string] },
): Promise<{ entries: JobDoc[]; next: [string, string] | undefined }> {
  const res = await client.search({
    index: EXPORT_JOBS_INDEX,
    body: jobsList(tenant, page) as never,
  });
  const hits = (res.body.hits.hits as unknown as { _source: JobDoc }[]).map((h) => h._source);
  const entries = hits.slice(0, page.limit);
  const last = entries.at(-1);
  return { entries, next: hits.length > page.limit && last ? [last.created_at, last.export_id] : undefined };
}

/**
 * Marks a pending or running job cancelled. The worker running it notices at its next write (a
 * version conflict), stops the upload, removes the files it wrote and never writes manifest.json.
 */
export async function cancelExport(client: Client, tenant: string, id: string, now: Date): Promise<JobDoc> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const found = await load(client, tenant, id);
    if (!found) throw notFound(id);
    if (TERMINAL.includes(found.doc.status))
      throw new Conflict(
        `the export is already ${found.doc.status}; only pending or running exports can be cancelled`,
      );
    const at = isoMicros(now);
    const patch = {
      status: "cancelled" as const,
      completed_at: at,
      updated_at: at,
      lease: { owner: null, expires_at: null },
    };
    try {
      await client.update({
        index: EXPORT_JOBS_INDEX,
        id: scopedId(tenant, id),
        if_seq_no: found.seq,
        if_primary_term: found.term,
        refresh: "wait_for",
        body: { doc: patch },
      });
      return { ...found.doc, ...patch };
    } catch (err) {
      if (statusOf(err) !== 409) throw err; // a worker wrote progress meanwhile: read again
    }
  }
  throw new Unavailable("the export is being updated too often to cancel right now; retry", 1);
}
