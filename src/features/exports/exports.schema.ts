/**
 * @module features/exports/schema
 * The export contract: the create request (shape only; secrets are resolved when the job runs),
 * the job as clients see it, and the manifest.
 */
import { z } from "@hono/zod-openapi";
import { DestinationSchema } from "../../destinations/object-store.ts";
import { filterJson } from "../../filters/filters.ts";

export const FORMATS = ["jsonl", "csv", "ocsf"] as const;
export const COMPRESSIONS = ["none", "gzip"] as const;
export const STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export type ExportStatus = (typeof STATUSES)[number];

export const DEFAULT_MAX_FILE_RECORDS = 1_000_000;
export const MAX_MAX_FILE_RECORDS = 10_000_000;

/** The create request; `now` settles what a relative instant in its filters may be. */
export function createExportSchema(now: () => Date) {
  return z
    .object({
      format: z.enum(FORMATS).default("jsonl").openapi({
        description:
          "`jsonl`: one event per line in the API form (with integrity proofs when the service seals events). `csv`: a header row, then the fixed columns of the contract, RFC 4180 quoting, CRLF line ends, formula-injection guard. `ocsf`: one OCSF 1.8 event per line (API Activity / Entity Management, the mapping delivery uses; files `*.ocsf.jsonl`).",
      }),
      compression: z.enum(COMPRESSIONS).default("none"),
      filters: filterJson(now).default({}).openapi("ExportFilters", {
        description:
          "The /logs filters as JSON (`action` a list or a string), plus `path` for one secret's exact path. Relative times are resolved when the export is created.",
      }),
      destination: DestinationSchema,
      max_file_records: z
        .number()
        .int()
        .min(1)
        .max(MAX_MAX_FILE_RECORDS)
        .default(DEFAULT_MAX_FILE_RECORDS)
        .openapi({ description: "Records per file before the next part starts (default 1,000,000)." }),
    })
    .strict()
    .openapi("CreateExport");
}
export type CreateExport = z.infer<ReturnType<typeof createExportSchema>>;

export const ManifestFileSchema = z
  .object({
    uri: z.string().openapi({ example: "s3://acme-audit-archive/scaivault/2026-10/part-00000.jsonl.gz" }),
    records: z.number().int(),
    bytes: z.number().int().openapi({ description: "Size of the stored object (after compression)." }),
    sha256: z.string().openapi({ description: "Hex SHA-256 of the stored object's bytes." }),
    leaves: z
      .array(z.tuple([z.number().int().nullable(), z.number().int()]))
      .optional()
      .openapi({
        description:
          "JSON lines with integrity: the file's records in order as runs `[first leaf index, count]` of consecutive leaves of the tenant's log (`[null, count]`: records with no leaf, e.g. not sealed in time).",
      }),
  })
  .openapi("ManifestFile");
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

export const ManifestSchema = z
  .object({
    export_id: z.string(),
    format: z.enum(FORMATS),
    compression: z.enum(COMPRESSIONS),
    snapshot_at: z.string().openapi({ description: "When the point-in-time snapshot was taken." }),
    files: z.array(ManifestFileSchema),
    total_records: z.number().int(),
    integrity: z
      .object({
        tenant: z.string(),
        log: z.string().openapi({ description: "The log's name: the checkpoint's origin line." }),
        checkpoint: z.object({ size: z.number().int(), root_hash: z.string(), note: z.string() }).openapi({
          description: "The signed checkpoint every record with a leaf is proven against.",
        }),
        proof: z.array(z.string()).openapi({
          description:
            "Multi-proof: base64 hashes of the largest subtrees holding none of the records' leaves, left to right; with the records' leaf hashes they give the checkpoint's root.",
        }),
        unproven: z.number().int().openapi({ description: "Records without a leaf (see files[].leaves)." }),
      })
      .optional()
      .openapi({ description: "Proof material (JSON lines exports, when the service seals events)." }),
    signature: z.string().optional().openapi({
      description:
        "A signed note (checkpoint key) over `<log>`, `export manifest`, `sha256 <hex SHA-256 of the RFC 8785 JSON of this manifest without signature>`.",
    }),
  })
  .openapi("Manifest");
export type Manifest = z.infer<typeof ManifestSchema>;

export const ExportErrorSchema = z
  .object({
    code: z.string().openapi({
      description:
        "secret_not_found, secret_invalid, secret_unavailable, endpoint_not_allowed, destination_error, snapshot_expired, snapshot_mismatch, too_many_attempts, internal",
    }),
    message: z.string(),
  })
  .openapi("ExportError");

export const ExportSchema = z
  .object({
    export_id: z.string().openapi({ example: "exp_01JDQ3Z8K4W6Y2N9R5T7V1X3B8" }),
    status: z.enum(STATUSES),
    format: z.enum(FORMATS),
    compression: z.enum(COMPRESSIONS),
    filters: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The filters with relative times resolved." }),
    destination: z.record(z.string(), z.unknown()),
    max_file_records: z.number().int(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    progress: z.object({
      records: z.number().int().openapi({ description: "Records written to completed and current files." }),
      estimated_total: z.number().int().nullable().openapi({
        description: "Events in the snapshot (exact, counted when the snapshot is taken); null before.",
      }),
    }),
    error: ExportErrorSchema.nullable(),
    manifest: ManifestSchema.nullable(),
  })
  .openapi("Export");
export type ExportView = z.infer<typeof ExportSchema>;

export const CreatedExportSchema = z
  .object({ export_id: z.string(), status: z.literal("pending"), created_at: z.string() })
  .openapi("CreatedExport");

export const ExportListSchema = z
  .object({ entries: z.array(ExportSchema), next_cursor: z.string().nullable() })
  .openapi("ExportList");
