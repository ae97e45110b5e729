import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { distributionArtifact, provisionOpenSearch, repoPath } from "../../dev/distribution.ts";

describe("provisionOpenSearch", () => {
  it("refuses an artifact whose checksum does not match, and removes it so the next start downloads it again", async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), "prov-"));
    const file = repoPath(path.join(cacheDir, "maven"), distributionArtifact("3.0.99"));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "not the real zip");
    writeFileSync(`${file}.sha1`, "0000000000000000000000000000000000000000\n");
    await expect(provisionOpenSearch({ version: "3.0.99", cacheDir, javaHome: "/nowhere" })).rejects.toThrow(
      /checksum mismatch/,
    );
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.join(cacheDir, "opensearch-3.0.99"))).toBe(false);
  });

  it("refuses an artifact with no stored checksum", async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), "prov-"));
    const file = repoPath(path.join(cacheDir, "maven"), distributionArtifact("3.0.98"));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "x");
    await expect(provisionOpenSearch({ version: "3.0.98", cacheDir, javaHome: "/nowhere" })).rejects.toThrow(
      /no checksum/,
    );
  });
});
