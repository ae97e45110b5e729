/**
 * `npm run test:api [-- --examples 20 --seed 1]`
 * schemathesis against the service's own /openapi.json: every operation, every check (but
 * use_after_free, see schemathesis.toml), valid and invalid data, and the stateful links the
 * document declares (create an export → read it → cancel it). The service runs as its own process
 * over a throwaway OpenSearch (or OPENSEARCH_URL) with its default budgets, for a tenant of its own,
 * with a token holding every scope. Any 5xx, any answer the document does not describe, any valid
 * request refused or invalid one accepted fails the run (exit 1). The JUnit and HAR reports go to
 * reports/schemathesis/. schemathesis is found like the tests' other tools (test/support/tools.ts).
 */
import { spawn } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { benchEnv } from "../../bench/support.ts";
import { mintToken } from "../../dev/token.ts";
import { SCOPES } from "../../src/http/auth.ts";
import { PROJECT_ROOT } from "../../src/opensearch/bootstrap.ts";
import { locateTool, SCHEMATHESIS } from "../support/tools.ts";

const { values } = parseArgs({
  options: {
    examples: { type: "string", default: "20" },
    seed: { type: "string", default: "1" },
  },
});

const st = locateTool(SCHEMATHESIS);
const reports = path.join(PROJECT_ROOT, "reports/schemathesis");
await rm(reports, { recursive: true, force: true });
await mkdir(reports, { recursive: true });

// Export jobs would need object stores: they stay pending here, which is all the API promises.
const env = await benchEnv({ EXPORT_WORKER: "false" }, "default");
let code: number | null = 1;
try {
  const token = await mintToken(env.secret, {
    sub: "service_account:schemathesis",
    tenant: `schemathesis-${Date.now().toString(36)}`,
    scope: SCOPES.join(" "),
  });
  const child = spawn(
    st,
    [
      "--config-file",
      "schemathesis.toml",
      "run",
      `${env.apiUrl}/openapi.json`,
      "--header",
      `Authorization: Bearer ${token}`,
      "--checks",
      "all",
      "--exclude-checks",
      "use_after_free",
      "--max-examples",
      values.examples,
      "--seed",
      values.seed,
      "--report",
      "junit,har",
      "--report-dir",
      reports,
      "--no-color",
    ],
    { cwd: import.meta.dirname, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  // schemathesis closes like pytest ("==== 1 warning in 264.51s ===="), which a CI reading
  // runners' closing lines takes for a pytest run of no test: reword its rules and that line.
  for await (const line of createInterface({ input: child.stdout })) {
    console.log(
      line
        .replace(/^=+ (.*) in ([\d.]+s) =+$/, "-- schemathesis took $2 ($1) --")
        .replace(/^=+( .* )=+$/, "--$1--"),
    );
  }
  code = await exited;
} finally {
  await env.close();
}
console.log(`schemathesis exited ${code}; reports in ${path.relative(PROJECT_ROOT, reports)}/`);
process.exit(code ?? 1);
