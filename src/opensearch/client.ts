/**
 * @module opensearch/client
 * The one OpenSearch client of the process, built from config. The client's long-numeral
 * support is off: it parses every response twice, the second time with a slow parser. Nothing
 * read back needs it: positions in the event order are taken from the documents' timestamps
 * (strings), never from nanosecond sort values.
 *
 * Its prototype-poisoning guard is off too: it rejects a whole response when any document holds a
 * `__proto__` key, or `constructor` with `prototype` under it, so one such stored event would fail
 * every page, export and live-tail read that carries it (and every tenant on that feed). Ingest
 * refuses those keys; a document that holds them anyway is parsed by plain JSON.parse (which only
 * makes own properties) and read by code that never merges it into another object.
 */
import { readFileSync } from "node:fs";
import { Client } from "@opensearch-project/opensearch";
import type { Config } from "../config.ts";
import { DeadlineTransport } from "./deadline.ts";

export function createOpenSearchClient(opts: Partial<Config["opensearch"]> & { url: string }): Client {
  return new Client({
    node: opts.url,
    ...(opts.username ? { auth: { username: opts.username, password: opts.password ?? "" } } : {}),
    ssl: {
      rejectUnauthorized: opts.tlsVerify ?? true,
      ...(opts.caFile ? { ca: readFileSync(opts.caFile) } : {}),
    },
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    // Within a request, the request's deadline and the breaker decide (opensearch/deadline).
    Transport: DeadlineTransport,
    maxRetries: 2,
    disablePrototypePoisoningProtection: true,
  });
}
