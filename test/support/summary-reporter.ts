/**
 * Prints one plain closing line, `tests: N passed, N failed`, after vitest's own summary, so a CI
 * reading the run's last lines sees the counts in a form it knows.
 */
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") counts.failed++;
        else counts.skipped++;
      }
      // A file that failed to load or set up (its tests skipped, or none) still counts as a failure.
      const tests = [...mod.children.allTests()];
      if (mod.state() === "failed" && !tests.some((t) => t.result().state === "failed")) counts.failed++;
    }
    const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : "";
    console.log(`\ntests: ${counts.passed} passed, ${counts.failed} failed${skipped}`);
  }
}
