/**
 * @module opensearch/search
 * Sends a builder's body to the audit data stream (or, for the summaries' rollup, to it and more). The client's request types lag the search API
 * (aggregations especially), so the one cast lives here rather than at every call site.
 */
import type { Client } from "@opensearch-project/opensearch";
import { AUDIT_STREAM } from "./names.ts";

export async function searchAudit<T>(
  client: Client,
  body: unknown,
  index: string = AUDIT_STREAM,
): Promise<T> {
  return (await client.search({ index, body: body as never })).body as T;
}
