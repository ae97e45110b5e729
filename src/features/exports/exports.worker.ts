/**
 * @module features/exports/worker
 * Runs export jobs in the service process. Any number of replicas run a worker; a job runs on one:
 * it is claimed with a conditional update (seq_no/primary_term) that sets a lease, the lease is
 * renewed while the job runs, and a job whose lease ran out (its worker died) is claimed again and
 * resumed from its checkpoint. A job that keeps failing ends `failed` after EXPORT_MAX_ATTEMPTS.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "@opensearch-project/opensearch";
import type { ExportSettings } from "../../config.ts";
import type { SecretResolver } from "../../destinations/credentials.ts";
import { DestinationError } from "../../destinations/errors.ts";
import { describeStoreError, openStore, type Store } from "../../destinations/object-store.ts";
import { isoMicros } from "../../events/time.ts";
import { resolve } from "../../filters/filters.ts";
import { PeriodicJob } from "../../jobs/periodic.ts";
import type { Logger } from "../../logger.ts";
import { statusOf } from "../../opensearch/errors.ts";
import { EXPORT_JOBS_INDEX } from "../../opensearch/names.ts";
import { tenantScope } from "../../tenancy/retention.ts";
import { ExportFailure } from "./exports.errors.ts";
import { JobCancelled, type JobDoc, JobHandle, LeaseLost } from "./exports.jobs.ts";
import { claimableJobs } from "./exports.query.ts";
import { type Attestor, closeSnapshot, manifestKey, partKey, runExport } from "./exports.runner.ts";
import type { Manifest } from "./exports.schema.ts";

export interface WorkerDeps {
  client: Client;
  log: Logger;
  secrets: SecretResolver;
  settings: Omit<ExportSettings, "secrets" | "worker">;
  now?: () => Date;
  /** Counts finished jobs by outcome (for /metrics). */
  finished?: (outcome: "completed" | "failed" | "cancelled") => void;
  /** Makes manifests provable offline (the tamper-evident log's; none: no proof, no signature). */
  attest?: Attestor;
}

/** Stops a job because this worker is shutting down: the lease is released for a quick resume. */
class ShuttingDown extends Error {
  override name = "ShuttingDown";
}

export class ExportWorker {
  readonly id = `worker-${randomUUID()}`;
  readonly #deps: WorkerDeps;
  readonly #now: () => Date;
  readonly #running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  readonly #poll: PeriodicJob;
  #stopped = false;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#poll = new PeriodicJob({
      name: "export worker poll",
      intervalMs: deps.settings.pollIntervalMs,
      run: () => this.tick(),
      log: deps.log,
    });
  }

  start(): void {
    this.#stopped = false;
    this.#poll.start();
  }

  /** Stops polling and interrupts running jobs; their leases are released so another worker resumes them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#poll.stop();
    for (const job of this.#running.values()) job.abort.abort(new ShuttingDown("the service is stopping"));
    await Promise.all([...this.#running.values()].map((j) => j.done));
  }

  /** Claims as many jobs as there are free slots and starts them. */
  async tick(): Promise<void> {
    const free = this.#deps.settings.concurrency - this.#running.size;
    if (free <= 0 || this.#stopped) return;
    const res = await this.#deps.client.search({
      index: EXPORT_JOBS_INDEX,
      body: claimableJobs(isoMicros(this.#now()), free * 4) as never,
    });
    const hits = res.body.hits.hits as unknown as { _id: string }[];
    for (const hit of hits) {
      if (this.#running.size >= this.#deps.settings.concurrency || this.#stopped) break;
      if (this.#running.has(hit._id)) continue;
      const handle = await this.#claim(hit._id);
      if (!handle) continue;
      if (this.#stopped) {
        // Stopped while claiming: hand the job straight back.
        await this.#release(handle);
        break;
      }
      const abort = new AbortController();
      const done = this.#run(handle, abort.signal).finally(() => this.#running.delete(handle.id));
      this.#running.set(handle.id, { abort, done });
    }
  }

  /** Takes a job if it is still claimable (read in real time; the search may be a second old). */
  async #claim(id: string): Promise<JobHandle | undefined> {
    const { client, settings } = this.#deps;
    const current = await client.get({ index: EXPORT_JOBS_INDEX, id });
    const doc = current.body._source as unknown as JobDoc;
    const now = this.#now();
    const expired = doc.lease.expires_at !== null && doc.lease.expires_at < isoMicros(now);
    if (!(doc.status === "pending" || (doc.status === "running" && expired))) return undefined;
    const handle = new JobHandle(client, id, doc, current.body as never, this.id);
    const at = isoMicros(now);
    try {
      if (doc.attempts >= settings.maxAttempts) {
        await handle.write(
          this.#failure(
            new ExportFailure(
              "too_many_attempts",
              `the export was tried ${doc.attempts} times and did not finish; start a new export`,
            ),
          ),
        );
        if (doc.checkpoint) await closeSnapshot(client, doc.checkpoint.pit_id);
        this.#deps.finished?.("failed");
        return undefined;
      }
      await handle.write({
        status: "running",
        started_at: doc.started_at ?? at,
        updated_at: at,
        attempts: doc.attempts + 1,
        lease: { owner: this.id, expires_at: this.#leaseEnd() },
      });
      return handle;
    } catch (err) {
      // Someone else claimed or cancelled it first: not ours.
      if (err instanceof JobCancelled || err instanceof LeaseLost || statusOf(err) === 409) return undefined;
      throw err;
    }
  }

  /** Expires the lease now (keeping checkpoint and snapshot), so any worker resumes the job at once. */
  async #release(handle: JobHandle): Promise<void> {
    await handle.write({ lease: { owner: null, expires_at: isoMicros(this.#now()) } }).catch(() => {});
  }

  #leaseEnd(): string {
    return isoMicros(new Date(this.#now().getTime() + this.#deps.settings.leaseMs));
  }

  #failure(f: ExportFailure): Partial<JobDoc> {
    const at = isoMicros(this.#now());
    return {
      status: "failed",
      error: { code: f.code, message: f.message },
      completed_at: at,
      updated_at: at,
      lease: { owner: null, expires_at: null },
      checkpoint: null,
    };
  }

  /** Runs a claimed job to its end: completed, failed, cancelled, released for a retry or taken over. */
  async #run(handle: JobHandle, shutdown: AbortSignal): Promise<void> {
    const job = handle.doc;
    const run: RunState = {
      log: this.#deps.log.child({ export_id: job.export_id, tenant: job.scaivault.tenant }),
      records: job.progress.records,
      total: job.progress.estimated_total,
      store: undefined,
      pitId: job.checkpoint?.pit_id,
    };
    const stop = new AbortController();
    const signal = AbortSignal.any([shutdown, stop.signal]);
    // The heartbeat renews the lease and publishes progress; a conflict there means cancel or takeover.
    const beat = () =>
      handle.write({
        progress: { records: run.records, estimated_total: run.total },
        updated_at: isoMicros(this.#now()),
        lease: { owner: this.id, expires_at: this.#leaseEnd() },
      });
    const heartbeat = setInterval(
      () => beat().catch((err) => stop.abort(err)),
      Math.max(250, Math.floor(this.#deps.settings.leaseMs / 3)),
    );
    try {
      const manifest = await this.#export(handle, run, signal, beat);
      clearInterval(heartbeat);
      await this.#complete(handle, run, manifest);
    } catch (raw) {
      clearInterval(heartbeat);
      const err = signal.aborted && !(raw instanceof ExportFailure) ? signal.reason : raw;
      await this.#settle(handle, err, run);
    }
  }

  /** Resolves the credentials, opens the destination and writes the snapshot: the manifest. */
  async #export(handle: JobHandle, run: RunState, signal: AbortSignal, beat: () => Promise<void>) {
    const { client, settings } = this.#deps;
    const job = handle.doc;
    const tenant = job.scaivault.tenant;
    if (job.checkpoint)
      run.log.info(
        { files_done: job.checkpoint.files.length, attempt: job.attempts },
        "resuming export from its checkpoint",
      );
    else run.log.info({ attempt: job.attempts }, "starting export");
    const secret = await this.#deps.secrets.resolve(tenant, job.request.destination.credentials_secret);
    const store = openStore(job.request.destination, secret, settings.endpointAllowlist);
    run.store = store;
    return runExport({
      client,
      tenant,
      exportId: job.export_id,
      since: (await tenantScope(client, tenant, this.#now())).since,
      request: job.request,
      // Stored with relative times resolved: the clock changes nothing here.
      filters: resolve(job.request.filters, this.#now()).filters,
      store,
      signal,
      pageSize: settings.pageSize,
      pitKeepAlive: settings.pitKeepAlive,
      now: this.#now,
      checkpoint: job.checkpoint,
      saveCheckpoint: async (cp, n) => {
        run.pitId = cp.pit_id;
        run.total = cp.total;
        run.records = n;
        await handle.write({ checkpoint: cp, progress: { records: n, estimated_total: cp.total } });
      },
      progress: (n) => {
        run.records = n;
      },
      beforeManifest: beat,
      ...(this.#deps.attest ? { attest: this.#deps.attest } : {}),
    });
  }

  async #complete(handle: JobHandle, run: RunState, manifest: Manifest): Promise<void> {
    const at = isoMicros(this.#now());
    try {
      await handle.write({
        status: "completed",
        manifest,
        progress: { records: manifest.total_records, estimated_total: run.total },
        completed_at: at,
        updated_at: at,
        lease: { owner: null, expires_at: null },
        checkpoint: null,
      });
    } catch (err) {
      // Cancelled between the manifest upload and this write: take the manifest back.
      await run.store?.remove(manifestKey(handle.doc.request)).catch(() => {});
      throw err;
    }
    if (run.pitId) await closeSnapshot(this.#deps.client, run.pitId);
    run.log.info({ records: manifest.total_records, files: manifest.files.length }, "export completed");
    this.#deps.finished?.("completed");
  }

  /** Records how a job that did not complete ended, and cleans up after it. */
  async #settle(handle: JobHandle, err: unknown, run: RunState): Promise<void> {
    if (err instanceof ShuttingDown) {
      // Keep the snapshot and checkpoint; expire the lease now so the next worker resumes at once.
      await this.#release(handle);
      run.log.info("export interrupted by shutdown; it resumes on the next worker");
    } else if (err instanceof LeaseLost) {
      run.log.warn("export taken over by another worker; stopping here");
    } else if (err instanceof JobCancelled) {
      await this.#cancelled(handle, run);
    } else {
      const failure = failureOf(err);
      if (!failure && handle.doc.attempts < this.#deps.settings.maxAttempts) {
        // Transient (OpenSearch unavailable, a network error): a worker retries from the checkpoint.
        run.log.warn(
          { err: (err as Error).message, attempt: handle.doc.attempts },
          "export attempt failed; it will be retried",
        );
        await this.#release(handle);
        return;
      }
      await this.#failed(
        handle,
        failure ?? new ExportFailure("internal", "the export failed repeatedly; start a new export"),
        run,
      );
    }
  }

  /**
   * Removes the parts already uploaded, and the one in flight (it may have completed just before
   * the cancel was seen): a cancelled export leaves nothing that looks usable.
   */
  async #cancelled(handle: JobHandle, run: RunState): Promise<void> {
    const job = handle.doc;
    const done = job.checkpoint?.files.length ?? 0;
    for (let i = 0; i <= done; i++) {
      const key = partKey(job.request, i);
      await run.store
        ?.remove(key)
        .catch((e) =>
          run.log.warn(
            { err: describeStoreError(e) ?? (e as Error).message, key },
            "could not remove a part of a cancelled export",
          ),
        );
    }
    if (run.pitId) await closeSnapshot(this.#deps.client, run.pitId);
    run.log.info("export cancelled");
    this.#deps.finished?.("cancelled");
  }

  async #failed(handle: JobHandle, failure: ExportFailure, run: RunState): Promise<void> {
    run.log.warn({ code: failure.code, err: failure.message }, "export failed");
    await handle
      .write(this.#failure(failure))
      .catch((e) => run.log.error({ err: (e as Error).message }, "could not record the export's failure"));
    if (run.pitId) await closeSnapshot(this.#deps.client, run.pitId);
    this.#deps.finished?.("failed");
  }
}

/** What one run of a job has got to, for its cleanup. */
interface RunState {
  log: Logger;
  records: number;
  total: number | null;
  store: Store | undefined;
  pitId: string | undefined;
}

/**
 * A failure the job ends with, or undefined for one worth another attempt (OpenSearch
 * unavailable, a network error): the destination's own errors and the stores' refusals are final.
 */
function failureOf(err: unknown): ExportFailure | undefined {
  if (err instanceof ExportFailure) return err;
  if (err instanceof DestinationError) return new ExportFailure(err.code, err.message);
  const described = describeStoreError(err);
  return described ? new ExportFailure("destination_error", described) : undefined;
}
