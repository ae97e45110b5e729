/**
 * @module http/problem
 * Every error leaves the service as RFC 9457 `application/problem+json`, mapped here in one place:
 * the domain errors services throw (src/errors: invalid input, not found, conflict, a limit, an
 * unavailable store), `ProblemError` for what only the HTTP edge knows (a token, a media type, a
 * body size), and OpenSearch client errors. Anything else is a generic 500, so no stack trace and
 * no raw OpenSearch error ever reaches a client.
 */
import { errors as osErrors } from "@opensearch-project/opensearch";
import {
  Conflict,
  type FieldError,
  Internal,
  InvalidInput,
  LimitReached,
  NotFound,
  NotYet,
  TimedOut,
  TooLarge,
  Unavailable,
} from "../errors.ts";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  instance?: string;
  request_id?: string;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ["bad-request", "Bad Request"],
  401: ["unauthorized", "Unauthorized"],
  403: ["forbidden", "Forbidden"],
  404: ["not-found", "Not Found"],
  405: ["method-not-allowed", "Method Not Allowed"],
  408: ["request-timeout", "Request Timeout"],
  409: ["conflict", "Conflict"],
  413: ["payload-too-large", "Payload Too Large"],
  414: ["uri-too-long", "URI Too Long"],
  415: ["unsupported-media-type", "Unsupported Media Type"],
  429: ["too-many-requests", "Too Many Requests"],
  431: ["request-header-fields-too-large", "Request Header Fields Too Large"],
  500: ["internal", "Internal Server Error"],
  503: ["unavailable", "Service Unavailable"],
  504: ["timeout", "Gateway Timeout"],
};

export function problemType(status: number): string {
  return `urn:scaivault:problem:${TITLES[status]?.[0] ?? "error"}`;
}

export class ProblemError extends Error {
  override name = "ProblemError";
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    detail: string,
    opts: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.status = status;
    this.errors = opts.errors;
    this.headers = opts.headers ?? {};
  }
}

export function problem(status: number, detail?: string, errors?: FieldError[]): Problem {
  const p: Problem = { type: problemType(status), title: TITLES[status]?.[1] ?? "Error", status };
  if (detail) p.detail = detail;
  if (errors && errors.length > 0) p.errors = errors;
  return p;
}

/** Seconds a client should wait before retrying when OpenSearch cannot serve. */
export const RETRY_AFTER_SECONDS = 5;

/** Maps any thrown value to a problem and extra headers. Unknown errors become an opaque 500. */
export function toProblem(err: unknown): {
  body: Problem;
  headers: Record<string, string>;
  unexpected: boolean;
} {
  if (err instanceof ProblemError) {
    return { body: problem(err.status, err.message, err.errors), headers: err.headers, unexpected: false };
  }
  const retry = (seconds: number) => ({ "Retry-After": String(seconds) });
  if (err instanceof InvalidInput)
    return { body: problem(400, err.message, err.errors), headers: {}, unexpected: false };
  if (err instanceof TooLarge) return { body: problem(413, err.message), headers: {}, unexpected: false };
  if (err instanceof NotFound) return { body: problem(404, err.message), headers: {}, unexpected: false };
  if (err instanceof Conflict) return { body: problem(409, err.message), headers: {}, unexpected: false };
  if (err instanceof NotYet)
    return { body: problem(409, err.message), headers: retry(err.retryAfterSeconds), unexpected: false };
  if (err instanceof LimitReached)
    return { body: problem(429, err.message), headers: retry(err.retryAfterSeconds), unexpected: false };
  if (err instanceof Unavailable)
    return { body: problem(503, err.message), headers: retry(err.retryAfterSeconds), unexpected: false };
  if (err instanceof TimedOut)
    return { body: problem(504, err.message), headers: retry(1), unexpected: false };
  // A bug or a changed template: said plainly, and logged as unexpected.
  if (err instanceof Internal) return { body: problem(500, err.message), headers: {}, unexpected: true };
  if (
    err instanceof osErrors.ConnectionError ||
    err instanceof osErrors.TimeoutError ||
    err instanceof osErrors.NoLivingConnectionsError
  ) {
    return {
      body: problem(503, "the audit store is unavailable; retry later"),
      headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
      unexpected: false,
    };
  }
  if (err instanceof osErrors.ResponseError) {
    const status = err.meta.statusCode;
    if (status === 429) {
      return {
        body: problem(429, "the audit store is overloaded; retry later"),
        headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
        unexpected: false,
      };
    }
    if (status === 503) {
      return {
        body: problem(503, "the audit store is unavailable; retry later"),
        headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
        unexpected: false,
      };
    }
  }
  return {
    body: problem(500, "an unexpected error occurred; quote the request id when reporting it"),
    headers: {},
    unexpected: true,
  };
}
