/**
 * @module opensearch/search
 * Sends a builder's body to the audit data stream. The client's request types lag the search API
 * (aggregations especially), so the one cast lives here rather than at every call site.
 */
import type { Client } from "@opensearch-project/opensearch";
import { AUDIT_STREAM } from "./names.ts";

export async function searchAudit<T>(client: Client, body: unknown): Promise<T> {
  return (await client.search({ index: AUDIT_STREAM, body: body as never })).body as T;
}
