/**
 * @module opensearch/deadline
 * Every call a request makes to OpenSearch runs against that request's deadline, applied in one
 * place: the client's transport. A route declares its budget (a page is not a 90-day aggregation
 * nor a bulk); http/admission starts the clock with `within`, and the transport reads it from the
 * request's async context, so no service passes timeouts around.
 *
 * Inside a request: a call is refused at once while the breaker (opensearch/health) is open; each
 * attempt gets what is left of the deadline as its timeout; a connection that fails is tried once
 * more if time remains, and then opens the breaker; when the breaker opens, waiting calls are
 * aborted. So a request answers 503 as soon as the store is known to be down, and 504 when its
 * own deadline passes — never a connection held for a whole outage. Background work (the live
 * tail's feed, exports, the purge) runs outside any request and keeps the client's own timeouts.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type ApiError, type ApiResponse, errors, Transport } from "@opensearch-project/opensearch";
import type {
  TransportRequestCallback,
  TransportRequestOptions,
  TransportRequestParams,
  TransportRequestPromise,
} from "@opensearch-project/opensearch/lib/Transport.js";
import { TimedOut, Unavailable } from "../errors.ts";
import type { StoreHealth } from "./health.ts";

export interface RequestBudget {
  /** Epoch ms by which the request must have its answer. */
  readonly deadline: number;
  readonly health: StoreHealth;
}

const current = new AsyncLocalStorage<RequestBudget>();

/** Runs `fn` (the rest of a request) with `budget` applying to every OpenSearch call it makes. */
export const within = <T>(budget: RequestBudget, fn: () => T): T => current.run(budget, fn);

/** Runs `fn` outside any request's budget: the breaker's own probe, even when a request starts it. */
export const outsideRequests = <T>(fn: () => T): T => current.exit(fn);

/** Pause before the one retry of a failed connection (a peer closing an idle socket, a node restart). */
const RETRY_PAUSE_MS = 50;

export class DeadlineTransport extends Transport {
  override request(
    params: TransportRequestParams,
    options?: TransportRequestOptions,
  ): TransportRequestPromise<ApiResponse>;
  override request(
    params: TransportRequestParams,
    options?: TransportRequestOptions,
    callback?: (err: ApiError, result: ApiResponse) => void,
  ): TransportRequestCallback;
  override request(
    params: TransportRequestParams,
    options?: TransportRequestOptions,
    callback?: (err: ApiError, result: ApiResponse) => void,
  ): TransportRequestPromise<ApiResponse> | TransportRequestCallback {
    const budget = current.getStore();
    if (!budget) return super.request(params, options, callback as never);
    const answer = this.#within(budget, params, options ?? {});
    if (callback) {
      answer.then(
        (res) => callback(null as unknown as ApiError, res),
        (err) => callback(err as ApiError, undefined as unknown as ApiResponse),
      );
      return { abort: () => {} };
    }
    return Object.assign(answer, { abort: () => {} });
  }

  async #within(
    budget: RequestBudget,
    params: TransportRequestParams,
    options: TransportRequestOptions,
  ): Promise<ApiResponse> {
    const { health } = budget;
    const ceiling = Number(options.requestTimeout ?? this.requestTimeout);
    if (!(await health.recheck())) throw unavailable(health);
    for (let attempt = 0; ; attempt++) {
      if (health.down) throw unavailable(health);
      const left = budget.deadline - Date.now();
      if (left <= 0) throw timedOut();
      const call = super.request(params, {
        ...options,
        requestTimeout: Math.max(1, Math.min(left, ceiling)),
        maxRetries: 0,
      });
      const stopWaiting = health.onDown(() => call.abort());
      try {
        return await call;
      } catch (err) {
        if (health.down) throw unavailable(health);
        if (err instanceof errors.TimeoutError && budget.deadline - Date.now() <= 0) throw timedOut();
        if (err instanceof errors.ConnectionError || err instanceof errors.NoLivingConnectionsError) {
          if (attempt === 0 && budget.deadline - Date.now() > RETRY_PAUSE_MS) {
            await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
            continue;
          }
          health.unreachable();
          throw unavailable(health);
        }
        throw err;
      } finally {
        stopWaiting();
      }
    }
  }
}

const unavailable = (health: StoreHealth) =>
  new Unavailable("the audit store is unavailable; retry later", health.retryAfterSeconds);

const timedOut = () =>
  new TimedOut("the audit store did not answer within this request's deadline; retry later");
