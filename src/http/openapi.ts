/**
 * @module http/openapi
 * The OpenAPI 3.1 document (`/openapi.json`) is generated from the same zod schemas that validate
 * requests, so the contract and the code cannot drift. `/docs` renders it with Swagger UI, whose
 * files are served by the service itself from the `swagger-ui-dist` package: the reference works
 * on a machine without internet, and its Content-Security-Policy allows scripts from this origin
 * only.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "hono";

const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "urn:scaivault:problem:bad-request" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .openapi({ description: "RFC 9457 problem details" });

export function mountOpenApi<E extends Env>(app: OpenAPIHono<E>, version: string): void {
  app.openAPIRegistry.register("Problem", ProblemSchema);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "Claims: sub, tenant, scope (space-separated: audit:read audit:write audit:export audit:admin).",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "ScaiVault Audit Log API",
      version,
      description:
        "Records every action in ScaiVault and lets you query, summarize, stream and export that record. " +
        "Errors are RFC 9457 `application/problem+json` with a `type` of the form `urn:scaivault:problem:<slug>`, " +
        "an `errors` array naming each offending field, and the `request_id` also sent as `X-Request-Id`.",
    },
    servers: [{ url: "/" }],
  });
  app.get("/docs", (c) => c.html(DOCS_PAGE, 200, DOCS_HEADERS));
  app.get("/docs/:file{swagger-ui\\.css|swagger-ui-bundle\\.js|init\\.js}", async (c) => {
    const file = c.req.param("file");
    const type = file.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
    const body = file === "init.js" ? DOCS_INIT : await docsAsset(file);
    return c.body(body, 200, {
      ...DOCS_HEADERS,
      "Content-Type": type,
      "Cache-Control": "public, max-age=3600",
    });
  });
}

/** Scripts and styles from this origin only; the page may not be framed. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const DOCS_HEADERS = { "Content-Security-Policy": DOCS_CSP, "X-Frame-Options": "DENY" };

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ScaiVault Audit Log API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;
// A file of its own, not an inline script: the CSP allows no inline code.
const DOCS_INIT = 'window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });\n';

const assets = new Map<string, Promise<string>>();
/** A file of swagger-ui-dist, read once. */
function docsAsset(file: string): Promise<string> {
  let asset = assets.get(file);
  if (!asset) {
    const dir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
    asset = readFile(path.join(dir, file), "utf8");
    assets.set(file, asset);
  }
  return asset;
}

/** An OpenAPI response entry for an error: problem+json with the shared Problem schema. */
export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});
