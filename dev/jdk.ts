/**
 * @module opensearch/jdk
 * Finds a JDK that can run OpenSearch 3.x (Java 21 or newer): OPENSEARCH_JAVA_HOME, then JAVA_HOME,
 * then the newest one under /usr/lib/jvm.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export const MIN_JAVA = 21;

export interface Jdk {
  home: string;
  major: number;
}

/** The major version a JDK's `release` file declares, or undefined if it is not a JDK home. */
export function javaMajor(home: string): number | undefined {
  const release = path.join(home, "release");
  if (!existsSync(release) || !existsSync(path.join(home, "bin", "java"))) return undefined;
  const m = /^JAVA_VERSION="(\d+)(?:\.(\d+))?/m.exec(readFileSync(release, "utf8"));
  if (!m) return undefined;
  // Java 8 and older call themselves 1.8.
  return m[1] === "1" ? Number(m[2]) : Number(m[1]);
}

export class JdkError extends Error {
  override name = "JdkError";
}

export function findJdk(opts: {
  explicit?: string | undefined;
  javaHome?: string | undefined;
  searchDir?: string;
}): Jdk {
  // An explicit choice that does not fit is an error, not something to silently work around.
  if (opts.explicit) {
    const major = javaMajor(opts.explicit);
    if (major === undefined)
      throw new JdkError(`OPENSEARCH_JAVA_HOME=${opts.explicit} is not a JDK (no release file or bin/java)`);
    if (major < MIN_JAVA) {
      throw new JdkError(
        `OPENSEARCH_JAVA_HOME=${opts.explicit} is Java ${major}; OpenSearch 3.x needs Java ${MIN_JAVA}+`,
      );
    }
    return { home: opts.explicit, major };
  }
  const candidates: Jdk[] = [];
  const consider = (home: string) => {
    const major = javaMajor(home);
    if (major !== undefined && major >= MIN_JAVA) candidates.push({ home, major });
  };
  if (opts.javaHome) consider(opts.javaHome);
  if (candidates.length > 0) return candidates[0] as Jdk;
  const dir = opts.searchDir ?? "/usr/lib/jvm";
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) consider(path.join(dir, name));
  }
  candidates.sort((a, b) => b.major - a.major);
  const best = candidates[0];
  if (!best) {
    throw new JdkError(
      `no JDK ${MIN_JAVA}+ found (looked at JAVA_HOME and ${dir}); install a JDK 21 or newer (Temurin, for example) or set OPENSEARCH_JAVA_HOME`,
    );
  }
  return best;
}
