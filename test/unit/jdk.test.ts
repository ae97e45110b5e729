import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findJdk, javaMajor } from "../../dev/jdk.ts";

function fakeJdk(root: string, name: string, version: string): string {
  const home = path.join(root, name);
  mkdirSync(path.join(home, "bin"), { recursive: true });
  writeFileSync(path.join(home, "bin", "java"), "");
  writeFileSync(path.join(home, "release"), `IMPLEMENTOR="x"\nJAVA_VERSION="${version}"\n`);
  return home;
}

describe("findJdk", () => {
  const root = mkdtempSync(path.join(tmpdir(), "jvm-"));
  const j8 = fakeJdk(root, "j8", "1.8.0_402");
  const j17 = fakeJdk(root, "j17", "17.0.15");
  const j21 = fakeJdk(root, "j21", "21.0.4");
  const j25 = fakeJdk(root, "j25", "25.0.3");
  mkdirSync(path.join(root, "not-a-jdk"));

  it("reads the major version from the release file", () => {
    expect(javaMajor(j8)).toBe(8);
    expect(javaMajor(j17)).toBe(17);
    expect(javaMajor(j25)).toBe(25);
    expect(javaMajor(path.join(root, "not-a-jdk"))).toBeUndefined();
  });

  it("picks the newest JDK 21+ in the search folder", () => {
    expect(findJdk({ searchDir: root })).toEqual({ home: j25, major: 25 });
  });

  it("prefers JAVA_HOME when it is new enough, and ignores it when it is not", () => {
    expect(findJdk({ javaHome: j21, searchDir: root }).home).toBe(j21);
    expect(findJdk({ javaHome: j17, searchDir: root }).home).toBe(j25);
  });

  it("honours an explicit OPENSEARCH_JAVA_HOME and rejects one that is too old", () => {
    expect(findJdk({ explicit: j21, searchDir: root }).home).toBe(j21);
    expect(() => findJdk({ explicit: j17, searchDir: root })).toThrow(
      /Java 17; OpenSearch 3.x needs Java 21/,
    );
    expect(() => findJdk({ explicit: path.join(root, "not-a-jdk") })).toThrow(/is not a JDK/);
  });

  it("says what to do when there is no suitable JDK", () => {
    const empty = mkdtempSync(path.join(tmpdir(), "nojvm-"));
    fakeJdk(empty, "old", "17.0.1");
    expect(() => findJdk({ searchDir: empty })).toThrow(/no JDK 21\+ found.*OPENSEARCH_JAVA_HOME/);
  });
});
