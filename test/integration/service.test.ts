import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freePort } from "../../dev/local-cluster.ts";
import { mintToken } from "../../dev/token.ts";
import { json } from "../support/app.ts";
import { alive, exitOf, startService, waitForStatus } from "../support/process.ts";
import { openStream } from "../support/sse.ts";

const SECRET = "t".repeat(40);

describe("the service process", () => {
  it("with OPENSEARCH_URL: starts nothing else, becomes ready, and on SIGTERM ends live tails with a final message and exits cleanly", async () => {
    const port = await freePort();
    const svc = startService({
      OPENSEARCH_URL: inject("opensearchUrl"),
      AUDIT_JWT_SECRET: SECRET,
      PORT: String(port),
      // The export, retention and rollup tests own the job queue and the leases of the shared cluster.
      EXPORT_WORKER: "false",
      RETENTION_PURGE: "false",
      SUMMARY_ROLLUP: "false",
    });
    try {
      const res = await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 60_000, svc.output);
      expect((await json(res)).checks).toMatchObject({ opensearch: "up", bootstrap: "done" });
      expect(svc.output()).not.toContain("starting the embedded OpenSearch");
      const token = await mintToken(SECRET, { sub: "user:oncall", tenant: "svc", scope: "audit:read" });
      const { res: opened, stream } = await openStream(`http://127.0.0.1:${port}`, token);
      expect(opened.status).toBe(200);
      await stream?.until(() => stream.lastEventId !== "");
      svc.child.kill("SIGTERM");
      await stream?.ended;
      expect(stream?.messages.at(-1)).toMatchObject({ event: "end" });
      expect(JSON.parse(stream?.messages.at(-1)?.data as string)).toMatchObject({ reason: "shutdown" });
    } finally {
      svc.child.kill("SIGTERM");
    }
    expect(await exitOf(svc.child)).toBe(0);
  });

  it("without OPENSEARCH_URL: provisions and runs its own node, and stops it too on SIGINT (Ctrl-C)", async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(path.join(tmpdir(), "svc-local-"));
    // npm start: the development entry point runs the node, then the service.
    const svc = startService(
      {
        PORT: String(port),
        AUDIT_JWT_SECRET: SECRET,
        OPENSEARCH_LOCAL_PORT: "0",
        OPENSEARCH_DATA_DIR: dataDir,
        OPENSEARCH_HEAP: "512m",
        OPENSEARCH_VERSION: inject("opensearchVersion"),
        OPENSEARCH_CACHE_DIR: inject("cacheDir"),
      },
      "dev/start.ts",
    );
    let nodePid: number | undefined;
    try {
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 150_000, svc.output);
      const m = /node node-1 \(pid (\d+)/.exec(svc.output());
      expect(m).not.toBeNull();
      nodePid = Number(m?.[1]);
      expect(alive(nodePid)).toBe(true);
    } finally {
      svc.child.kill("SIGINT");
    }
    expect(await exitOf(svc.child)).toBe(0);
    expect(nodePid !== undefined && alive(nodePid)).toBe(false);
    await rm(dataDir, { recursive: true, force: true });
  }, 240_000);
});
