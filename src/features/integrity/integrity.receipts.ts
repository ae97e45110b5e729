/**
 * @module features/integrity/receipts
 * Signed purge receipts. Retention deletes events, never leaves: before the purge deletes a
 * tenant's expired events it has a receipt signed here (tenant, cut-off, how many, when) — a
 * signed note with the checkpoint key — so a verification tells a leaf whose event retention
 * deleted ("purged") from one whose event went missing. No receipt, no delete.
 */
import type { Client } from "@opensearch-project/opensearch";
import { INTEGRITY_INDEX } from "../../opensearch/names.ts";
import { receiptId, receiptsSearch } from "./integrity.query.ts";
import { NoteError, openNote, type Signer, signNote, type Verifier } from "./note.ts";

export interface Purge {
  tenant: string;
  /** Events before this instant are deleted. */
  cutoff: string;
  /** How many the purge found expired. */
  expired: number;
  at: string;
}

/** The receipt's signed text: the tenant's log (its checkpoints' origin), then the purge. */
const receiptText = (origin: string, p: Purge): string =>
  `${origin}/${p.tenant}\npurge receipt\ncutoff ${p.cutoff}\nexpired ${p.expired}\nat ${p.at}\n`;

/** Signs and stores the receipt of a purge about to run (same cut-off again: the newer receipt). */
export async function writeReceipt(client: Client, signer: Signer, origin: string, p: Purge): Promise<void> {
  await client.index({
    index: INTEGRITY_INDEX,
    id: receiptId(p.tenant, p.cutoff),
    refresh: "wait_for",
    body: {
      kind: "receipt",
      scaivault: { tenant: p.tenant },
      at: p.at,
      data: { ...p, note: signNote(receiptText(origin, p), [signer]) },
    } as never,
  });
}

/** The signed purges of a tenant, read from the signed text alone. */
export interface Receipts {
  /** The latest cut-off any valid receipt signs: leaves of events before it may be purged. */
  purgedBefore: string | null;
  valid: number;
  /** Receipts whose signature or text does not hold (altered in the cluster): ignored. */
  invalid: number;
}

const RECEIPT = /^(\S+)\npurge receipt\ncutoff (\S+)\nexpired (\d+)\nat (\S+)\n$/;

export async function readReceipts(
  client: Client,
  tenant: string,
  origin: string,
  verifiers: Verifier[],
): Promise<Receipts> {
  const res = await client.search({
    index: INTEGRITY_INDEX,
    body: receiptsSearch({ id: tenant, since: null }, 10_000) as never,
  });
  const out: Receipts = { purgedBefore: null, valid: 0, invalid: 0 };
  for (const hit of res.body.hits.hits as unknown as { _source: { data?: { note?: unknown } } }[]) {
    const note = hit._source.data?.note;
    const m = typeof note === "string" ? RECEIPT.exec(open(note, verifiers) ?? "") : null;
    if (!m || m[1] !== `${origin}/${tenant}` || Number.isNaN(Date.parse(m[2] as string))) {
      out.invalid++;
      continue;
    }
    out.valid++;
    const cutoff = m[2] as string;
    if (out.purgedBefore === null || Date.parse(cutoff) > Date.parse(out.purgedBefore))
      out.purgedBefore = cutoff;
  }
  return out;
}

function open(note: string, verifiers: Verifier[]): string | null {
  try {
    return openNote(note, verifiers).text;
  } catch (err) {
    if (err instanceof NoteError) return null;
    throw err;
  }
}
