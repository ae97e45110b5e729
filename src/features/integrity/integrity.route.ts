/**
 * @module features/integrity
 * The tamper-evident log's API (audit:read; API.md › Integrity): the keys that sign checkpoints,
 * the newest checkpoint (or the one signed at a size), an event's inclusion proof and the
 * consistency proof between two sizes. Everything an auditor needs to check offline with the
 * verifier key alone.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import { NOT_BLANK, text } from "../../filters/filters.ts";
import type { Gate } from "../../http/admission.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { secured } from "../../http/route.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import { checkpoint, consistency, inclusion } from "./integrity.service.ts";
import { type Verifier, verifierKey } from "./note.ts";

export interface IntegrityDeps {
  client: Client;
  gate: Gate;
  /** The key checkpoints are signed with now (if any), and retired ones still published for older checkpoints. */
  keys: { active: Verifier | null; retired: Verifier[] };
}

const CheckpointSchema = z
  .object({
    size: z.number().int().openapi({ description: "Leaves in the tree: the tenant's events sealed." }),
    root_hash: z.string().openapi({ description: "Base64 RFC 6962 root hash of the tree of that size." }),
    timestamp: z.string().openapi({ description: "When the checkpoint was signed." }),
    note: z.string().openapi({
      description:
        "The C2SP signed note (`tlog-checkpoint`): origin `<AUDIT_LOG_ORIGIN>/<tenant>`, size, root hash, a blank line, Ed25519 signature lines.",
    }),
  })
  .openapi("Checkpoint");

const KeysSchema = z
  .object({
    keys: z.array(
      z.object({
        key_id: z.string().openapi({ description: "The key hash, 8 hex digits, as in signature lines." }),
        algorithm: z.literal("ed25519"),
        verifier_key: z
          .string()
          .openapi({ description: "The note verifier key: `<name>+<key id>+<base64 key>`." }),
        active: z
          .boolean()
          .openapi({ description: "Signs new checkpoints; retired keys verify older ones." }),
      }),
    ),
  })
  .openapi("IntegrityKeys");

const InclusionSchema = z
  .object({
    event_id: z.string(),
    leaf_index: z.number().int(),
    tree_size: z.number().int(),
    leaf_hash: z.string().openapi({
      description:
        "Base64 SHA-256(0x00 ‖ RFC 8785 canonical JSON of {tenant, …the event as /logs returns it}).",
    }),
    proof: z
      .array(z.string())
      .openapi({ description: "Base64 hashes, leaf end first (RFC 9162 audit path)." }),
    checkpoint: CheckpointSchema,
  })
  .openapi("InclusionProof");

const ConsistencySchema = z
  .object({
    from_size: z.number().int(),
    to_size: z.number().int(),
    proof: z.array(z.string()).openapi({ description: "Base64 hashes (RFC 9162 consistency proof)." }),
  })
  .openapi("ConsistencyProof");

const MAX_SIZE = Number.MAX_SAFE_INTEGER;
const size = (min: number) =>
  text()
    .refine(
      (s) => /^\d{1,16}$/.test(s) && Number(s) >= min && Number(s) <= MAX_SIZE,
      `must be a whole number ≥ ${min}`,
    )
    .transform(Number)
    .openapi({ type: "integer", minimum: min, maximum: MAX_SIZE });

const checkpointOut = (c: { size: number; root: string; timestamp: string; note: string }) => ({
  size: c.size,
  root_hash: c.root,
  timestamp: c.timestamp,
  note: c.note,
});

export function registerIntegrity(app: OpenAPIHono<AppEnv>, deps: IntegrityDeps): void {
  const tenantOf = (c: { var: { principal: { tenant: string } } }): Tenant => ({
    id: c.var.principal.tenant,
    // The log keeps every event it sealed; the retention cut-off does not apply to proofs.
    since: null,
  });

  const keys = secured(deps.gate, "audit:read", {
    method: "get",
    path: "/v1/audit/integrity/keys",
    operationId: "getIntegrityKeys",
    tags: ["integrity"],
    summary: "The keys checkpoints are signed with",
    responses: { 200: { description: "Keys", content: { "application/json": { schema: KeysSchema } } } },
  });
  app.openapi(keys, (c) => {
    const key = (v: Verifier, active: boolean) => ({
      key_id: v.keyId,
      algorithm: "ed25519" as const,
      verifier_key: verifierKey(v),
      active,
    });
    return c.json(
      {
        keys: [
          ...(deps.keys.active ? [key(deps.keys.active, true)] : []),
          ...deps.keys.retired.map((v) => key(v, false)),
        ],
      },
      200,
    );
  });

  const latest = secured(deps.gate, "audit:read", {
    method: "get",
    path: "/v1/audit/integrity/checkpoint",
    operationId: "getCheckpoint",
    tags: ["integrity"],
    summary: "The tenant's newest signed checkpoint, or the one signed at a size",
    description:
      "404 before anything of the tenant's was sealed, or when no checkpoint was signed at `size`.",
    request: { query: z.strictObject({ size: size(1).optional() }) },
    responses: {
      200: { description: "Checkpoint", content: { "application/json": { schema: CheckpointSchema } } },
      404: problemResponse("Nothing sealed yet, or no checkpoint signed at that size"),
    },
  });
  app.openapi(latest, async (c) => {
    const q = c.req.valid("query");
    return c.json(checkpointOut(await checkpoint(deps.client, tenantOf(c), q.size)), 200);
  });

  const proveInclusion = secured(deps.gate, "audit:read", {
    method: "get",
    path: "/v1/audit/integrity/proofs/inclusion",
    operationId: "getInclusionProof",
    tags: ["integrity"],
    summary: "Proof that one event is in the tenant's log",
    description:
      "Against the newest checkpoint, or the one signed at `size`. 409 with `Retry-After` while the event is not sealed or no checkpoint covers it yet.",
    request: {
      query: z.strictObject({
        event_id: text().openapi({ ...NOT_BLANK, description: "The event's `id`, as /logs returns it." }),
        size: size(1).optional(),
      }),
    },
    responses: {
      200: { description: "Inclusion proof", content: { "application/json": { schema: InclusionSchema } } },
      404: problemResponse("No such event for this tenant, or no checkpoint signed at that size"),
      409: problemResponse(
        "Not sealed, or not covered by a checkpoint, yet: retry after `Retry-After` seconds",
      ),
    },
  });
  app.openapi(proveInclusion, async (c) => {
    const q = c.req.valid("query");
    const p = await inclusion(deps.client, tenantOf(c), q.event_id, q.size);
    return c.json({ ...p, checkpoint: checkpointOut(p.checkpoint) }, 200);
  });

  const proveConsistency = secured(deps.gate, "audit:read", {
    method: "get",
    path: "/v1/audit/integrity/proofs/consistency",
    operationId: "getConsistencyProof",
    tags: ["integrity"],
    summary: "Proof that the tenant's log of one size is a prefix of it at a larger size",
    description:
      "`from_size` must not be past `to_size` (400); a `to_size` the log has not reached is a 404.",
    request: { query: z.strictObject({ from_size: size(1), to_size: size(1) }) },
    responses: {
      200: {
        description: "Consistency proof",
        content: { "application/json": { schema: ConsistencySchema } },
      },
      404: problemResponse("The log has no tree of `to_size` (yet)"),
    },
  });
  app.openapi(proveConsistency, async (c) => {
    const q = c.req.valid("query");
    return c.json(await consistency(deps.client, tenantOf(c), q.from_size, q.to_size), 200);
  });
}
