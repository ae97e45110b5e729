/**
 * Prints a new Ed25519 signer key for the integrity checkpoints (`PRIVATE+KEY+<name>+<id>+<key>`,
 * as Go's `note.GenerateKey` writes them) and, on stderr, its verifier key. Usage:
 * `npm run integrity-key -- [name]` (default `scaivault.local/audit`); keep the output in a file
 * only the service reads and point INTEGRITY_SIGNING_KEY_FILE at it.
 */
import { generateSignerKey, parseSignerKey, verifierKey } from "../src/features/integrity/note.ts";

const key = generateSignerKey(process.argv[2] ?? "scaivault.local/audit");
console.log(key);
console.error(`verifier key: ${verifierKey(parseSignerKey(key))}`);
