/**
 * @module http/middleware
 * Cross-cutting HTTP behaviour: the access log, security headers, limits on the request target and
 * the body, and problem+json for errors, unknown routes and wrong methods.
 */
import type { Context, Env, Hono, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../logger.ts";
import { PROBLEM_CONTENT_TYPE, type Problem, problem, toProblem } from "./problem.ts";

export function sendProblem(c: Context, body: Problem, headers: Record<string, string> = {}): Response {
  const requestId = c.get("requestId") as string | undefined;
  return c.json(
    { ...body, ...(requestId ? { request_id: requestId } : {}) },
    body.status as ContentfulStatusCode,
    {
      ...headers,
      "Content-Type": PROBLEM_CONTENT_TYPE,
    },
  );
}

/** One JSON line per request. Deliberately no headers, query string or body: they can carry tokens and secrets. */
export function accessLog(log: Logger): MiddlewareHandler {
  return async (c, next) => {
    const began = performance.now();
    await next();
    log.info(
      {
        req_id: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        duration_ms: Math.round((performance.now() - began) * 1000) / 1000,
      },
      "request",
    );
  };
}

/**
 * On every response: no MIME sniffing, no referrer. API answers are never cached (they carry one
 * tenant's audit data); a response that set its own Cache-Control (the live tail, static assets)
 * keeps it.
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    c.res.headers.set("Referrer-Policy", "no-referrer");
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
  };
}

/** Query parameters one request may carry (each endpoint takes a dozen or so). */
const MAX_QUERY_PARAMS = 100;
/** The longest cursor the service issues is far below this. */
const MAX_CURSOR_CHARS = 4096;

/**
 * The request target within bounds before anything parses it: 414 beyond `maxUrlBytes`, 400 for
 * more than MAX_QUERY_PARAMS parameters or a cursor longer than any the service issues.
 */
export function limitRequestTarget(maxUrlBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const url = c.req.url;
    const target = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    if (Buffer.byteLength(target) > maxUrlBytes)
      return sendProblem(c, problem(414, `the request target exceeds ${maxUrlBytes} bytes`));
    const query = new URL(url).searchParams;
    let count = 0;
    for (const _ of query.keys()) count++;
    if (count > MAX_QUERY_PARAMS)
      return sendProblem(
        c,
        problem(400, "the query has too many parameters", [
          {
            field: "query",
            message: `must hold at most ${MAX_QUERY_PARAMS} parameters; this one has ${count}`,
          },
        ]),
      );
    if (query.getAll("cursor").some((v) => v.length > MAX_CURSOR_CHARS))
      return sendProblem(
        c,
        problem(400, "the cursor is not one this service issued", [
          { field: "cursor", message: "is not a cursor this service issued" },
        ]),
      );
    await next();
  };
}

export function limitBody(maxSize: number): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: (c) => sendProblem(c, problem(413, `the request body exceeds ${maxSize} bytes`)),
  });
}

/** 405 with `Allow` when the path exists under another method. */
export function wrongMethod<E extends Env>(app: Hono<E>): MiddlewareHandler<E> {
  return methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      sendProblem(c, problem(405, `${c.req.method} is not allowed on ${c.req.path}`), {
        Allow: methods.join(", "),
      }),
  });
}

export function notFound(c: Context): Response {
  return sendProblem(c, problem(404, `no route for ${c.req.method} ${c.req.path}`));
}

export function errorHandler(log: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof HTTPException) {
      return sendProblem(c, problem(err.status, err.message || undefined));
    }
    const { body, headers, unexpected } = toProblem(err);
    if (unexpected) log.error({ req_id: c.get("requestId"), err }, "unhandled error");
    else if (body.status >= 500)
      log.warn({ req_id: c.get("requestId"), err: err.message }, "audit store unavailable");
    return sendProblem(c, body, headers);
  };
}
