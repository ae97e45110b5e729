/**
 * `npm run verify -- <export folder | manifest.json> --key <verifier key> [--key …]`
 * Checks an export offline with the verifier key alone (GET /v1/audit/integrity/keys, kept out of
 * band): the manifest's signature, every file's size and SHA-256, every JSON lines record against
 * the signed checkpoint, and that checkpoint's signature. Prints one line per check.
 * Exit codes: 0 all hold, 1 something does not, 2 bad usage.
 */
import { parseArgs } from "node:util";
import { manifestPathOf, verifyExport } from "../src/features/integrity/integrity.offline.ts";
import { parseVerifierKey, type Verifier } from "../src/features/integrity/note.ts";

const usage = "usage: npm run verify -- <export folder | manifest.json> --key <verifier key> [--key …]";
let target: string;
let keys: Verifier[];
try {
  const { values, positionals } = parseArgs({
    options: { key: { type: "string", multiple: true } },
    allowPositionals: true,
  });
  if (positionals.length !== 1 || !values.key?.length) throw new Error(usage);
  target = positionals[0] as string;
  keys = values.key.map((k) => parseVerifierKey(k.trim()));
} catch (err) {
  console.error((err as Error).message === usage ? usage : `${(err as Error).message}\n${usage}`);
  process.exit(2);
}

const manifest = await manifestPathOf(target).catch(() => null);
if (!manifest) {
  console.error(`${target}: no such folder or file\n${usage}`);
  process.exit(2);
}
const findings = await verifyExport(manifest, keys);
for (const f of findings) console.log(`${f.ok ? "ok  " : "FAIL"} ${f.subject}: ${f.detail}`);
const failed = findings.filter((f) => !f.ok).length;
console.log(failed === 0 ? "the export verifies" : `${failed} check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
