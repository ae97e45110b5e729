/**
 * @module http/route
 * A route is declared once: its path, its schemas — which validate the request and are the
 * OpenAPI document — and the scope it requires. `secured` writes the scope into the document
 * (`security: [{bearer: ["audit:read"]}]`, role names as OpenAPI 3.1 allows for any scheme) and
 * puts the guard that enforces it in front of the validators, so document and behaviour cannot
 * differ, and the security tests read each route's scope back from /openapi.json. Every secured
 * route has a query schema, strict, so an unknown parameter is a 400 everywhere.
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { type FieldError, InvalidInput } from "../errors.ts";
import { issuesToFields } from "../filters/filters.ts";
import type { Gate, Load } from "./admission.ts";
import type { Scope } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { parseJson } from "./json.ts";
import { problemResponse } from "./openapi.ts";

type Spec = Omit<RouteConfig, "security" | "middleware">;

/** The problem responses every secured route can give. */
const common = (scope: Scope) => ({
  400: problemResponse("A parameter or the body is invalid; `errors[].field` names each problem"),
  401: problemResponse("Missing or invalid token"),
  403: problemResponse(`The token lacks ${scope}`),
  429: limitedResponse,
  503: problemResponse("OpenSearch is unavailable; retry after Retry-After"),
  504: problemResponse("OpenSearch did not answer within the request's deadline; retry after Retry-After"),
});

/** A 429 from the tenant's budget (http/budgets), with the headers that say when to come back. */
const limitedResponse = {
  ...problemResponse("A limit of this tenant or caller is reached; retry after Retry-After"),
  headers: {
    "Retry-After": { description: "Seconds to wait", schema: { type: "integer" as const } },
    "RateLimit-Policy": {
      description: "The quotas (draft-ietf-httpapi-ratelimit-headers), in cost units",
      schema: { type: "string" as const },
    },
    RateLimit: { description: "What is left of each quota", schema: { type: "string" as const } },
  },
};

/** The query of a route that takes no parameters: any parameter is unknown. */
const NO_PARAMETERS = z.strictObject({});

/** `R` with a query schema, `NO_PARAMETERS` when it declares none. */
type WithQuery<R extends Spec> = Omit<R, "request"> & {
  request: NonNullable<R["request"]> extends { query: z.ZodType }
    ? NonNullable<R["request"]>
    : NonNullable<R["request"]> & { query: typeof NO_PARAMETERS };
};

/**
 * A route that requires `scope`, declared once for the document, the guard and the budget. `load`:
 * what a request costs and which deadline fits it (http/admission); `middleware` runs after both.
 */
export function secured<const R extends Spec>(
  gate: Gate,
  scope: Scope,
  route: R,
  opts: Load & { middleware?: MiddlewareHandler<AppEnv>[] } = {},
) {
  const withQuery = {
    ...route,
    request: { query: NO_PARAMETERS, ...route.request },
    responses: { ...common(scope), ...route.responses },
  } as unknown as WithQuery<R>;
  return createRoute({
    ...withQuery,
    security: [{ bearer: [scope] }],
    middleware: [gate.guard(scope), gate.admit(opts), namedParameters, ...(opts.middleware ?? [])],
  });
}

/**
 * A parameter without a name (`?=x`) is unknown like any other; the router's query parser drops
 * it silently, so it is caught here, from the raw query string.
 */
const namedParameters: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = c.req.url;
  const at = url.indexOf("?");
  if (at >= 0 && /(?:^|&)=/.test(url.slice(at + 1)))
    throw new InvalidInput("the query parameters are invalid", [
      { field: "(unnamed)", message: "a parameter has no name" },
    ]);
  await next();
};

/** The app's validation hook: every bad field named; an unknown one by its own name. */
export function validationHook(
  result: { success: boolean; target: string; error?: { issues: readonly unknown[] } },
  _c: Context,
): void {
  if (result.success || !result.error) return;
  const unknown = result.target === "query" ? "is not a parameter of this endpoint" : "is not a known field";
  const fields = issuesToFields(result.error.issues as Parameters<typeof issuesToFields>[0], unknown).map(
    (e) => (result.target === "json" && e.field === "query" ? { ...e, field: "body" } : e),
  );
  throw new InvalidInput(
    result.target === "query" ? "the query parameters are invalid" : "the request is invalid",
    fields,
  );
}

/**
 * For JSON bodies: JSON.parse would keep the last of two equal keys and round numbers a double
 * cannot hold; those are a 400 naming the field (http/json). `refuse` may name further fields the
 * body must not have at all (inline credentials), before its shape is checked. Bodies of other
 * media types pass on to the route's own 415; a body without a media type is a 415 too, and no body
 * at all a 400.
 */
export function exactJson(refuse?: (body: unknown) => FieldError[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.header("Content-Type") === undefined) {
      // The validator would take a body without a media type for `{}`, which some routes accept.
      if ((await c.req.raw.clone().arrayBuffer()).byteLength > 0)
        throw new HTTPException(415, { message: "the body must be application/json" });
      throw new InvalidInput("the request is invalid", [{ field: "body", message: "is required" }]);
    }
    const type = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type === "application/json") {
      let parsed: ReturnType<typeof parseJson>;
      try {
        parsed = parseJson(await c.req.text());
      } catch {
        throw new InvalidInput("the body is not valid JSON", [
          { field: "body", message: "is not valid JSON" },
        ]);
      }
      if (parsed.problems.length > 0)
        throw new InvalidInput(
          "the body is invalid",
          parsed.problems.map((p) => ({ field: p.path.map(String).join(".") || "body", message: p.message })),
        );
      const refused = refuse?.(parsed.value) ?? [];
      if (refused.length > 0) throw new InvalidInput("the body is invalid", refused);
    }
    await next();
  };
}

/**
 * A route whose last path parameter takes the rest of the path, slashes included (a secret path
 * such as `prod/payments/db`; any character, line separators too). The document gets the route
 * as declared; the router a copy with the parameter's pattern.
 */
export function catchAll<R extends { path: string }>(
  app: { openAPIRegistry: { registerPath(route: never): void } },
  route: R,
  param: string,
): R & { hide: true } {
  app.openAPIRegistry.registerPath(route as never);
  return { ...route, hide: true, path: route.path.replace(`{${param}}`, `{${param}{[\\s\\S]+}}`) };
}
