import { afterAll, describe, expect, inject, it } from "vitest";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { json, testApp } from "../support/app.ts";

describe("/readyz", () => {
  const { app, client, readiness } = testApp(inject("opensearchUrl"));
  afterAll(() => client.close());

  it("flips from 503 to 200 once the bootstrap has run against a live OpenSearch", async () => {
    const before = await app.request("/readyz");
    expect(before.status).toBe(503);
    expect(await json(before)).toEqual({
      status: "not_ready",
      checks: { opensearch: "up", bootstrap: "pending" },
    });

    await readiness.runOnce(client, await loadAssets());

    const after = await app.request("/readyz");
    expect(after.status).toBe(200);
    const body = await json(after);
    expect(body.status).toBe("ready");
    expect(body.checks).toMatchObject({ opensearch: "up", bootstrap: "done" });
    expect(["ism", "unavailable"]).toContain(body.checks.lifecycle);
  });
});
