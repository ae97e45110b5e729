/**
 * @module features/integrity/keys
 * The checkpoint signer from configuration: the key file (as `note.GenerateKey` writes signer
 * keys), and the verifier keys of retired signers, still published so older checkpoints verify.
 */
import { readFileSync } from "node:fs";
import type { Config } from "../../config.ts";
import { parseSignerKey, parseVerifierKey, type Signer, type Verifier } from "./note.ts";

export interface IntegrityKeys {
  /** Signs new checkpoints; null when none is configured (nothing is sealed then). */
  signer: Signer | null;
  retired: Verifier[];
}

export function loadIntegrityKeys(settings: Config["integrity"]): IntegrityKeys {
  const file = settings.signingKeyFile;
  return {
    signer: file ? parseSignerKey(readFileSync(file, "utf8")) : null,
    retired: settings.retiredKeys.map(parseVerifierKey),
  };
}
