import { inject } from "vitest";
import { createOpenSearchClient } from "../../src/opensearch/client.ts";

/** A client for the shared test OpenSearch (see global-setup.ts). */
export function testClient(url = inject("opensearchUrl")) {
  return createOpenSearchClient({ url });
}
