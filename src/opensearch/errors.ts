/**
 * @module opensearch/errors
 * The HTTP status of an OpenSearch response error (404 missing, 409 version conflict, …), or
 * undefined for anything else (a connection error, a bug).
 */
export const statusOf = (err: unknown): number | undefined =>
  (err as { meta?: { statusCode?: number } } | undefined)?.meta?.statusCode;
