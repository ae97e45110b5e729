/**
 * @module cli/commands/local
 * Commands that need no service: `verify` (an export, offline, with the integrity verifier of
 * src/features/integrity — what `npm run verify` runs) and `token` (a dev token, as
 * `npm run token` mints it).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { devSecret, loadDevConfig } from "../../dev/config.ts";
import { mintToken } from "../../dev/token.ts";
import { manifestPathOf, verifyExport } from "../../src/features/integrity/integrity.offline.ts";
import { parseVerifierKey, type Verifier } from "../../src/features/integrity/note.ts";
import { SCOPES } from "../../src/http/auth.ts";
import { Failed, UsageError } from "../client.ts";
import { positiveInt } from "../common.ts";
import { write } from "../output.ts";

/** The project folder (where `npm start` keeps .data/dev-jwt-secret). */
const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerLocal(program: Command): void {
  program
    .command("verify <folder|manifest>")
    .description(
      "verify a downloaded export offline: signed manifest, files' sizes and SHA-256, every record against the signed checkpoint",
    )
    .requiredOption(
      "--key <verifier-key>",
      "a verifier key from GET /v1/audit/integrity/keys (repeatable)",
      collect,
    )
    .addHelpText("after", "\nExit codes: 0 every check holds, 1 something does not, 2 bad usage.")
    .action(async (target: string, opts: { key: string[] }) => {
      let keys: Verifier[];
      try {
        keys = opts.key.map((k) => parseVerifierKey(k.trim()));
      } catch (err) {
        throw new UsageError(`--key: ${(err as Error).message}`);
      }
      const manifest = await manifestPathOf(target).catch(() => null);
      if (!manifest) throw new UsageError(`${target}: no such folder or file`);
      const findings = await verifyExport(manifest, keys);
      for (const f of findings) write(`${f.ok ? "ok  " : "FAIL"} ${f.subject}: ${f.detail}\n`);
      const failed = findings.filter((f) => !f.ok).length;
      write(failed === 0 ? "the export verifies\n" : `${failed} check(s) failed\n`);
      if (failed > 0) throw new Failed(`${failed} check(s) failed`);
    });

  program
    .command("token")
    .description("mint a dev token (HS256 with AUDIT_JWT_SECRET, or the secret `npm start` generated)")
    .requiredOption("--tenant <tenant>", "the tenant")
    .addOption(new Option("--scope <scopes>", "space-separated scopes").default(SCOPES.join(" ")))
    .option("--sub <sub>", "the caller", "user:dev@localhost")
    .option("--ttl <seconds>", "lifetime", positiveInt("--ttl"), 3600)
    .action(async (opts: { tenant: string; scope: string; sub: string; ttl: number }) => {
      let dev: ReturnType<typeof loadDevConfig>;
      try {
        // The project's own .data folder, wherever the CLI runs from: where `npm start` keeps its dev secret.
        dev = loadDevConfig(process.env, PROJECT_ROOT);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const file = dev.devSecretFile && existsSync(dev.devSecretFile) ? dev.devSecretFile : undefined;
      const secret = process.env.AUDIT_JWT_SECRET || (file ? devSecret(file) : undefined);
      if (!secret)
        throw new UsageError(
          "no AUDIT_JWT_SECRET (and no dev secret from `npm start`): tokens for a JWKS deployment come from its identity provider",
        );
      const unknown = opts.scope.split(/\s+/).filter((s) => s && !(SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0)
        throw new UsageError(`unknown scope(s) ${unknown.join(", ")}; known: ${SCOPES.join(", ")}`);
      write(
        `${await mintToken(secret, { sub: opts.sub, tenant: opts.tenant, scope: opts.scope }, opts.ttl)}\n`,
      );
    });
}
