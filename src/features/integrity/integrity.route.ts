/**
 * @module features/integrity
 * The tamper-evident log's API (audit:read; API.md › Integrity): the keys that sign checkpoints,
 * the newest checkpoint (or the one signed at a size), an event's inclusion proof and the
 * consistency proof between two sizes. Everything an auditor needs to check offline with the
 * verifier key alone.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Client } from "@opensearch-project/opensearch";
import { isoMicros, parseInstant } from "../../events/time.ts";
import { filterFields, NOT_BLANK, text } from "../../filters/filters.ts";
import type { Gate } from "../../http/admission.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { exactJson, secured } from "../../http/route.ts";
import type { Logger } from "../../logger.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";
import {
  checkpoint,
  consistency,
  getVerification,
  inclusion,
  startVerification,
  type VerificationRun,
} from "./integrity.service.ts";
import { FIRST } from "./integrity.verify.ts";
import { type Verifier, verifierKey } from "./note.ts";

export interface IntegrityDeps {
  client: Client;
  gate: Gate;
  /** The key checkpoints are signed with now (if any), and retired ones still published for older checkpoints. */
  keys: { active: Verifier | null; retired: Verifier[] };
  /** `<origin>/<tenant>` names each tenant's log in its checkpoints and purge receipts. */
  origin: string;
  log: Logger;
  now: () => Date;
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

const leafIndex = (description: string) =>
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).openapi({ description });

/** A verification's request: a leaf range or a time window (neither: the whole log). */
const verificationRequest = (now: () => Date) => {
  const window = filterFields(now, "json");
  return z
    .strictObject({
      from: window.from.optional(),
      to: window.to.optional(),
      from_leaf: leafIndex("First leaf to verify (default 0).").optional(),
      to_leaf: leafIndex("Leaf to stop before (default: the newest checkpoint's size).").optional(),
    })
    .superRefine((v, ctx) => {
      const windowed = v.from !== undefined || v.to !== undefined;
      for (const k of ["from_leaf", "to_leaf"] as const)
        if (windowed && v[k] !== undefined)
          ctx.addIssue({ code: "custom", path: [k], message: "cannot be combined with from or to" });
      if (v.from_leaf !== undefined && v.to_leaf !== undefined && v.from_leaf > v.to_leaf)
        ctx.addIssue({ code: "custom", path: ["from_leaf"], message: "must not be past to_leaf" });
      const at = now();
      const from = v.from ? parseInstant(v.from, at) : null;
      const to = v.to ? parseInstant(v.to, at) : null;
      if (from?.ok && to?.ok && from.value >= to.value)
        ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
    })
    .openapi("VerificationRequest", {
      description:
        "Leaves [`from_leaf`, `to_leaf`), or the events of [`from`, `to`) (either bound alone: from the beginning, or until now); `{}` verifies the whole log.",
    });
};

const VerificationSchema = z
  .object({
    verification_id: z.string(),
    status: z.enum(["running", "completed", "failed"]),
    created_at: z.string(),
    updated_at: z.string().openapi({ description: "The run's last progress." }),
    finished_at: z.string().nullable(),
    request: z.record(z.string(), z.unknown()).openapi({ description: "The range or window asked for." }),
    error: z.string().nullable(),
    checkpoint: z
      .object({ size: z.number().int(), root_hash: z.string(), timestamp: z.string() })
      .nullable()
      .openapi({
        description: "The signed checkpoint everything was checked against (null: nothing sealed).",
      }),
    log: z.enum(["verified", "damaged", "empty"]).openapi({
      description:
        "`verified`: the checkpoint's signature holds and the stored hashes of every leaf looked at hash up to its root; `damaged`: one of them does not (`damage` says which), and the counts stop there.",
    }),
    damage: z.string().nullable(),
    leaves: z.object({ from: z.number().int(), to: z.number().int() }),
    verified: z.number().int().openapi({ description: "Events whose leaf hash matches their leaf." }),
    purged: z.number().int().openapi({
      description: "Leaves whose event is gone and lies before a signed purge receipt's cut-off.",
    }),
    unsealed: z
      .number()
      .int()
      .openapi({ description: "Events of the window not in the signed checkpoint yet." }),
    modified: z
      .array(z.string())
      .openapi({ description: `Ids of events that differ from their leaf (the first ${FIRST}).` }),
    modified_count: z.number().int(),
    missing: z.array(z.number().int()).openapi({
      description: `Leaf indexes whose event is gone without a purge receipt (the first ${FIRST}).`,
    }),
    missing_count: z.number().int(),
    unexpected: z.array(z.string()).openapi({
      description: `Ids of stored events the sealer refused: not written through the API (the first ${FIRST}).`,
    }),
    unexpected_count: z.number().int(),
    receipts: z.object({
      valid: z.number().int(),
      invalid: z.number().int().openapi({ description: "Receipts whose signature does not hold: ignored." }),
      purged_before: z.string().nullable(),
    }),
  })
  .openapi("Verification");

const runOut = (r: VerificationRun) => {
  const { report, ...run } = r;
  return { ...run, ...report };
};

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
        "Not sealed, or not covered by a checkpoint, yet: retry after `Retry-After` seconds. Without `Retry-After`: never, as the sealer refused the event (not written through this service's ingest).",
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

  const startRun = secured(
    deps.gate,
    "audit:read",
    {
      method: "post",
      path: "/v1/audit/integrity/verifications",
      operationId: "startVerification",
      tags: ["integrity"],
      summary: "Re-hash stored events against the tenant's log",
      description:
        "Starts a verification run: each leaf's event is read (every stored copy) and hashed as /logs shows it, against the newest signed checkpoint. " +
        "Reports verified, modified, missing, purged (by a signed purge receipt), unsealed and unexpected events.",
      request: {
        body: { required: true, content: { "application/json": { schema: verificationRequest(deps.now) } } },
      },
      responses: {
        202: {
          description: "Started",
          headers: {
            Location: {
              required: true,
              description: "/v1/audit/integrity/verifications/{verification_id}",
              schema: { type: "string" },
            },
          },
          content: { "application/json": { schema: VerificationSchema } },
          links: {
            GetVerification: {
              operationId: "getVerification",
              parameters: { id: "$response.body#/verification_id" },
            },
          },
        },
        415: problemResponse("Not application/json"),
      },
    },
    { cost: () => 4, middleware: [exactJson()] },
  );
  app.openapi(startRun, async (c) => {
    const body = c.req.valid("json");
    const at = deps.now();
    // Validated above: parses. A bound left out is the beginning, or now.
    const instant = (v: string | undefined, otherwise: string) => {
      const t = v === undefined ? null : parseInstant(v, at);
      return t?.ok ? t.value : otherwise;
    };
    const windowed = body.from !== undefined || body.to !== undefined;
    const run = await startVerification(
      deps.client,
      tenantOf(c),
      windowed
        ? {
            kind: "window",
            from: instant(body.from, "1970-01-01T00:00:00.000000Z"),
            to: instant(body.to, isoMicros(at)),
          }
        : { kind: "leaves", fromLeaf: body.from_leaf ?? 0, toLeaf: body.to_leaf ?? null },
      {
        verifiers: [...(deps.keys.active ? [deps.keys.active] : []), ...deps.keys.retired],
        origin: deps.origin,
        log: deps.log,
        now: deps.now,
      },
    );
    c.header("Location", `/v1/audit/integrity/verifications/${run.verification_id}`);
    return c.json(runOut(run), 202);
  });

  const getRun = secured(deps.gate, "audit:read", {
    method: "get",
    path: "/v1/audit/integrity/verifications/{id}",
    operationId: "getVerification",
    tags: ["integrity"],
    summary: "A verification run: its progress, then its report",
    request: {
      params: z.object({ id: text().openapi({ ...NOT_BLANK, example: "ver_01JDQ3Z8K4W6Y2N9R5T7V1X3B8" }) }),
    },
    responses: {
      200: { description: "The run", content: { "application/json": { schema: VerificationSchema } } },
      404: problemResponse("No such verification for this tenant"),
    },
  });
  app.openapi(getRun, async (c) => {
    const run = await getVerification(deps.client, tenantOf(c), c.req.valid("param").id, deps.now());
    return c.json(runOut(run), 200);
  });
}
