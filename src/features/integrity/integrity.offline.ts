/**
 * @module features/integrity/offline
 * The offline verifier of an export: with the export's files in one folder (as downloaded) and the
 * verifier key(s) alone — no service, no cluster — it checks the manifest's signature, each file's
 * size and SHA-256, each JSON lines record's leaf hash against the signed checkpoint (through the
 * manifest's multi-proof), and that checkpoint's signature. `npm run verify` runs it.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import canonicalize from "canonicalize";
import { manifestText } from "./integrity.exports.ts";
import { NoteError, openNote, parseCheckpoint, type Verifier } from "./note.ts";
import { type Hash, leafHash, leafSet, multiRoot } from "./tlog.ts";

export interface Finding {
  ok: boolean;
  /** What was checked: "manifest", a file name, "records", "checkpoint". */
  subject: string;
  detail: string;
}

interface ManifestFile {
  uri: string;
  records: number;
  bytes: number;
  sha256: string;
  leaves?: [number | null, number][];
}

interface Manifest {
  format: string;
  compression: string;
  files: ManifestFile[];
  total_records: number;
  integrity?: {
    tenant: string;
    log: string;
    checkpoint: { size: number; root_hash: string; note: string };
    proof: string[];
    unproven: number;
  };
  signature?: string;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

function open(note: string, keys: Verifier[]): { text: string } | { error: string } {
  try {
    return { text: openNote(note, keys).text };
  } catch (err) {
    if (err instanceof NoteError) return { error: err.message };
    throw err;
  }
}

/** Verifies the export whose manifest is `manifestPath` (its files beside it) with `keys`. */
export async function verifyExport(manifestPath: string, keys: Verifier[]): Promise<Finding[]> {
  const out: Finding[] = [];
  const say = (ok: boolean, subject: string, detail: string) => out.push({ ok, subject, detail });
  const folder = path.dirname(manifestPath);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8")) as Manifest;
  } catch (err) {
    say(false, "manifest", `cannot be read as JSON: ${(err as Error).message}`);
    return out;
  }

  // 1. The signature over everything else in the manifest.
  const { signature, ...unsigned } = manifest;
  if (typeof signature !== "string") say(false, "manifest", "is not signed");
  else {
    const opened = open(signature, keys);
    const digest = sha256(canonicalize(unsigned) as string);
    if ("error" in opened) say(false, "manifest", `signature: ${opened.error}`);
    else {
      const log = opened.text.split("\n")[0] as string;
      const holds =
        opened.text === manifestText(log, digest) && (!manifest.integrity || manifest.integrity.log === log);
      say(holds, "manifest", holds ? `signed for ${log}` : "its content is not what was signed");
    }
  }

  // 2. Every file, byte for byte; JSON lines records kept for their leaves.
  const leafOf = new Map<number, Hash>();
  const integrity = manifest.integrity;
  for (const f of manifest.files ?? []) {
    const name = f.uri.split("/").at(-1) as string;
    const file = path.join(folder, name);
    const bytes = await readFile(file).catch(() => null);
    if (!bytes) {
      say(false, name, "is missing from the folder");
      continue;
    }
    if (bytes.length !== f.bytes || sha256(bytes) !== f.sha256) {
      say(false, name, `differs from the manifest (${bytes.length} bytes, SHA-256 ${sha256(bytes)})`);
      continue;
    }
    const problems: string[] = [];
    if (manifest.format === "jsonl") {
      const text = (manifest.compression === "gzip" ? gunzipSync(bytes) : bytes).toString("utf8");
      const lines = text.split("\n").filter((l) => l !== "");
      if (lines.length !== f.records)
        problems.push(`holds ${lines.length} records, the manifest says ${f.records}`);
      if (integrity && f.leaves) {
        let at = 0;
        for (const [first, count] of f.leaves) {
          for (let k = 0; k < count; k++, at++) {
            const line = lines[at];
            if (first === null || line === undefined) continue;
            const event = JSON.parse(line) as Record<string, unknown>;
            const data = canonicalize({ tenant: integrity.tenant, ...event }) as string;
            leafOf.set(first + k, leafHash(Buffer.from(data, "utf8")));
          }
        }
        if (at !== lines.length) problems.push(`its leaf runs cover ${at} records of ${lines.length}`);
      }
    }
    say(
      problems.length === 0,
      name,
      problems.length === 0 ? `${f.records} records, SHA-256 matches` : problems.join("; "),
    );
  }

  // 3. The records against the signed checkpoint.
  if (integrity) {
    const opened = open(integrity.checkpoint.note, keys);
    if ("error" in opened) say(false, "checkpoint", `signature: ${opened.error}`);
    else {
      const cp = parseCheckpoint(opened.text);
      const same =
        cp.origin === integrity.log &&
        cp.size === integrity.checkpoint.size &&
        cp.root.toString("base64") === integrity.checkpoint.root_hash;
      say(
        same,
        "checkpoint",
        same ? `${cp.origin} at size ${cp.size}, signed` : "does not match the manifest",
      );
      const set = leafSet(leafOf.keys());
      try {
        const root = multiRoot(
          cp.size,
          set,
          (i) => leafOf.get(i) as Hash,
          integrity.proof.map((h) => Buffer.from(h, "base64")),
        );
        const holds = root.equals(cp.root);
        say(
          holds,
          "records",
          holds
            ? `${leafOf.size} records proven in the log at size ${cp.size}${integrity.unproven ? ` (${integrity.unproven} without a leaf)` : ""}`
            : "do not hash up to the checkpoint's root: a record or the proof was changed",
        );
      } catch (err) {
        say(false, "records", `the proof does not fit these records: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

/** The manifest path from a folder or a manifest file. */
export async function manifestPathOf(target: string): Promise<string> {
  return (await stat(target)).isDirectory() ? path.join(target, "manifest.json") : target;
}
