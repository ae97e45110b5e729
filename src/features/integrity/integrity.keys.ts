/**
 * @module features/integrity/keys
 * The checkpoint signer from configuration: the key file (as `note.GenerateKey` writes signer
 * keys) or the ScaiVault secret holding it (`signer_key`), and the verifier keys of retired
 * signers, still published so older checkpoints verify.
 * The ingest seal's key is derived from the signer's (HKDF-SHA256): one secret to keep and share
 * between replicas, and an attacker without it can neither sign checkpoints nor seal events.
 */
import { createSecretKey, hkdfSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Config } from "../../config.ts";
import type { SecretResolver } from "../../destinations/credentials.ts";
import type { SealKey } from "../../events/leaf.ts";
import { parseSignerKey, parseVerifierKey, type Signer, type Verifier } from "./note.ts";

export interface IntegrityKeys {
  /** Signs new checkpoints; null when none is configured (nothing is sealed then). */
  signer: Signer | null;
  /** Its text form (for the export thread, which signs manifests). */
  signerText: string | null;
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

/** The keys, read once at start: a key that cannot be read or parsed stops the service, named. */
export async function loadIntegrityKeys(
  settings: Config["integrity"],
  secrets: SecretResolver,
): Promise<IntegrityKeys> {
  const text = settings.signingKeyFile
    ? await readFile(settings.signingKeyFile, "utf8").catch((err: NodeJS.ErrnoException) => {
        throw new KeyUnavailable(`INTEGRITY_SIGNING_KEY_FILE cannot be read (${err.code ?? err.message})`);
      })
    : settings.signingKeySecret
      ? await fromSecret(settings.signingKeySecret, secrets)
      : null;
  let signer: Signer | null = null;
  if (text !== null) {
    try {
      signer = parseSignerKey(text.trim());
    } catch (err) {
      throw new KeyUnavailable(`the integrity signing key is not a signer key: ${(err as Error).message}`);
    }
  }
  return {
    signer,
    signerText: text === null ? null : text.trim(),
    retired: settings.retiredKeys.map(parseVerifierKey),
    seal: signer ? sealKeyOf(signer) : null,
  };
}

async function fromSecret(at: { tenant: string; path: string }, secrets: SecretResolver): Promise<string> {
  const value = await secrets.resolve(at.tenant, at.path).catch((err: Error) => {
    throw new KeyUnavailable(`INTEGRITY_SIGNING_KEY_SECRET cannot be read: ${err.message}`);
  });
  if (typeof value.signer_key !== "string")
    throw new KeyUnavailable("INTEGRITY_SIGNING_KEY_SECRET: the secret has no `signer_key` text field");
  return value.signer_key;
}

/** The configured signing key cannot be had: the service does not start without it. */
export class KeyUnavailable extends Error {
  override name = "KeyUnavailable";
}
