/**
 * @module destinations/object-stores/common
 * What every object store is (`ObjectStoreType`, `Store`) and the request fields they share. The
 * registry is destinations/object-store.
 */
import type { Readable } from "node:stream";
import { z } from "@hono/zod-openapi";

/** An open destination: streams files in and removes them. */
export interface Store {
  /** Where `key` ends up, as the manifest names it. */
  uri(key: string): string;
  /** Streams `body` to `key`; rejects when the upload fails or `signal` aborts (nothing is left visible). */
  put(key: string, body: Readable, opts: { contentType: string; signal: AbortSignal }): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface ObjectStoreType<D extends { type: string; credentials_secret: string }, C> {
  type: D["type"];
  /** The destination in an export request (strict: a credential here is refused by name first). */
  schema: z.ZodType<D>;
  /** The shape its credentials secret must hold, and how to say it when it does not. */
  credentials: z.ZodType<C>;
  expected: string;
  /** Hosts the request names that must pass the allowlist, by field. */
  endpoints(d: D): Record<string, string | undefined>;
  open(d: D, credentials: C): Store;
  /** A customer-facing description of one of its SDK's errors; undefined for any other error. */
  describe(err: unknown): string | undefined;
}

// ---- Fields every object store has --------------------------------------------------------

/** Segments, none of them `..`, the first not empty (no leading '/'): what the checks below take. */
const SEGMENT = "([^/.][^/]*|\\.|\\.[^/.][^/]*|\\.\\.[^/]+)";
const PREFIX_PATTERN = `^(${SEGMENT}(/${SEGMENT}?)*)?$`;

export const prefix = z
  .string()
  .max(512)
  .refine((p) => !p.startsWith("/"), "must not start with '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..' segments")
  .default("")
  .openapi({
    maxLength: 512,
    pattern: PREFIX_PATTERN,
    description:
      "Object-name prefix, used as given (end it with '/' for a folder). Files are `<prefix>part-00000.<ext>` and `<prefix>manifest.json`.",
  });

export const endpoint = z.url().optional().openapi({
  description:
    "A custom service endpoint (an S3-compatible store, a GCS or Azure Blob emulator). Its origin must be listed in EXPORT_ENDPOINT_ALLOWLIST.",
});

/** The provider's error code and HTTP status, nothing raw. */
export function refusal(code: string, status: number | undefined): string {
  return `the destination refused the upload: ${code}${status ? ` (HTTP ${status})` : ""}`;
}
