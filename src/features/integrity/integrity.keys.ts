/**
 * @module features/integrity/keys
 * The checkpoint signer from configuration: the key file (as `note.GenerateKey` writes signer
 * keys), and the verifier keys of retired signers, still published so older checkpoints verify.
 * The ingest seal's key is derived from the signer's (HKDF-SHA256): one secret to keep and share
 * between replicas, and an attacker without it can neither sign checkpoints nor seal events.
 */
import { createSecretKey, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Config } from "../../config.ts";
import type { SealKey } from "../../events/leaf.ts";
import { parseSignerKey, parseVerifierKey, type Signer, type Verifier } from "./note.ts";

export interface IntegrityKeys {
  /** Signs new checkpoints; null when none is configured (nothing is sealed then). */
  signer: Signer | null;
  retired: Verifier[];
  /** Seals events at ingest; null without a signer. */
  seal: SealKey | null;
}

/** The ingest seal's key, derived from the signing key's seed and named by its key id. */
export function sealKeyOf(signer: Signer): SealKey {
  const seed = signer.privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
  const key = hkdfSync("sha256", seed, Buffer.alloc(0), "scaivault-audit ingest seal v1", 32);
  return { id: signer.keyId, key: createSecretKey(Buffer.from(key)) };
}

export function loadIntegrityKeys(settings: Config["integrity"]): IntegrityKeys {
  const file = settings.signingKeyFile;
  const signer = file ? parseSignerKey(readFileSync(file, "utf8")) : null;
  return {
    signer,
    retired: settings.retiredKeys.map(parseVerifierKey),
    seal: signer ? sealKeyOf(signer) : null,
  };
}
