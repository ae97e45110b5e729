/**
 * The layout's rules, checked on every file's imports: the runtime never imports development code,
 * no feature imports another feature, and config imports nothing of the features.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Every relative import of a file, as a path from the project root. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [
    ...text.matchAll(
      /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']|new URL\(\s*["'](\.{1,2}\/[^"']+)["']/g,
    ),
  ].map((m) => path.relative(PROJECT_ROOT, path.resolve(path.dirname(file), (m[1] ?? m[2]) as string)));
}

const src = files(path.join(PROJECT_ROOT, "src"));
const rel = (f: string) => path.relative(PROJECT_ROOT, f);

describe("layers", () => {
  it("reads the tree (the rules below are not vacuous)", () => {
    expect(src.length).toBeGreaterThan(50);
    expect(imports(path.join(PROJECT_ROOT, "src/app.ts")).length).toBeGreaterThan(10);
  });

  it("the runtime (src/) never imports development code (dev/, scripts/, test/, bench/)", () => {
    for (const f of src) for (const i of imports(f)) expect(i, `${rel(f)} imports ${i}`).toMatch(/^src\//);
  });

  it("no feature imports another feature", () => {
    for (const f of src.filter((x) => rel(x).startsWith("src/features/"))) {
      const own = rel(f).split("/")[2];
      for (const i of imports(f).filter((x) => x.startsWith("src/features/")))
        expect(i.split("/")[2], `${rel(f)} imports ${i}`).toBe(own);
    }
  });

  it("only app.ts, main.ts and export-thread.ts wire features; config, http, filters, events and the rest import none", () => {
    for (const f of src.filter(
      (x) => !rel(x).startsWith("src/features/") && !/^src\/(app|main|export-thread)\.ts$/.test(rel(x)),
    ))
      for (const i of imports(f)) expect(i.startsWith("src/features/"), `${rel(f)} imports ${i}`).toBe(false);
  });
});
