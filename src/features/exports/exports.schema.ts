/**
 * @module features/exports/schema
 * The export contract: the create request (shape only; secrets are resolved when the job runs),
 * the job as clients see it, and the manifest.
 */
import { z } from "@hono/zod-openapi";
import { ACTIONS, IDENTITY_TYPES } from "../../events/event.schema.ts";

export const FORMATS = ["jsonl", "csv"] as const;
export const COMPRESSIONS = ["none", "gzip"] as const;
export const STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export type ExportStatus = (typeof STATUSES)[number];

export const DEFAULT_MAX_FILE_RECORDS = 1_000_000;
export const MAX_MAX_FILE_RECORDS = 10_000_000;

/** Keys that would put a credential in the request; credentials come only from `credentials_secret`. */
export const INLINE_CREDENTIAL_KEYS = [
  "access_key_id",
  "secret_access_key",
  "session_token",
  "connection_string",
  "sas_token",
  "account_key",
  "private_key",
  "client_secret",
  "credentials",
] as const;

const secretPath = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, "must be a secret path such as infra/aws/audit-exporter")
  .max(512)
  .openapi({ description: "Path of a ScaiVault secret holding the credentials, resolved for your tenant." });

const prefix = z
  .string()
  .max(512)
  .refine((p) => !p.startsWith("/"), "must not start with '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..' segments")
  .default("")
  .openapi({
    description:
      "Object-name prefix, used as given (end it with '/' for a folder). Files are `<prefix>part-00000.<ext>` and `<prefix>manifest.json`.",
  });

const endpoint = z.url().optional().openapi({
  description:
    "A custom service endpoint (an S3-compatible store, a GCS or Azure Blob emulator). Its origin must be listed in EXPORT_ENDPOINT_ALLOWLIST.",
});

const S3Destination = z
  .object({
    type: z.literal("s3"),
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        "must be an S3 bucket name (3–63 lowercase letters, digits, '.', '-')",
      ),
    prefix,
    region: z.string().regex(/^[a-z0-9-]{2,32}$/, "must be an AWS region such as us-east-1"),
    credentials_secret: secretPath,
    endpoint,
  })
  .strict()
  .openapi("S3Destination");

const GcsDestination = z
  .object({
    type: z.literal("gcs"),
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
        "must be a GCS bucket name (lowercase letters, digits, '.', '_', '-')",
      ),
    prefix,
    credentials_secret: secretPath,
    endpoint,
  })
  .strict()
  .openapi("GcsDestination");

const AzureDestination = z
  .object({
    type: z.literal("azure_blob"),
    container: z
      .string()
      .regex(
        /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
        "must be an Azure container name (3–63 lowercase letters, digits, '-')",
      ),
    prefix,
    account: z
      .string()
      .regex(/^[a-z0-9]{3,24}$/, "must be a storage account name (3–24 lowercase letters and digits)")
      .optional(),
    container_url: z.url().optional().openapi({
      description: "The container's URL, e.g. https://acct.blob.core.windows.net/audit (instead of account).",
    }),
    credentials_secret: secretPath,
    endpoint: endpoint.openapi({
      description:
        "The blob service URL, e.g. http://127.0.0.1:10000/devstoreaccount1 for Azurite. Its origin must be listed in EXPORT_ENDPOINT_ALLOWLIST.",
    }),
  })
  .strict()
  .superRefine((d, ctx) => {
    const given = [d.account, d.container_url, d.endpoint].filter((v) => v !== undefined).length;
    if (given !== 1)
      ctx.addIssue({
        code: "custom",
        path: ["account"],
        message: "give exactly one of account, container_url or endpoint",
      });
  })
  .openapi("AzureBlobDestination");

export const DestinationSchema = z.discriminatedUnion("type", [
  S3Destination,
  GcsDestination,
  AzureDestination,
]);
export type Destination = z.infer<typeof DestinationSchema>;

const stringOrList = z.union([z.string(), z.array(z.string()).min(1)]);

/** The /logs filters, as JSON. Validated by the same code as /logs query parameters. */
export const ExportFiltersSchema = z
  .object({
    from: z.string().optional().openapi({
      description: "Inclusive; ISO 8601 or relative (`now-30d`), resolved when the export is created.",
    }),
    to: z
      .string()
      .optional()
      .openapi({ description: "Exclusive; ISO 8601 or relative, resolved when the export is created." }),
    action: stringOrList.optional().openapi({ description: `One or more of ${ACTIONS.join(", ")}.` }),
    identity_id: z.string().optional(),
    identity_type: z.enum(IDENTITY_TYPES).optional(),
    path: z.string().optional().openapi({ description: "One secret's exact path." }),
    path_prefix: z.string().optional(),
    success: z.boolean().optional(),
    source_ip: z.string().optional(),
    request_id: z.string().optional(),
    q: z.string().optional(),
  })
  .strict()
  .openapi("ExportFilters");
export type ExportFiltersInput = z.infer<typeof ExportFiltersSchema>;

export const CreateExportSchema = z
  .object({
    format: z.enum(FORMATS).default("jsonl").openapi({
      description:
        "`jsonl`: one event per line in the API form. `csv`: a header row, then the fixed columns of the contract, RFC 4180 quoting, CRLF line ends, formula-injection guard.",
    }),
    compression: z.enum(COMPRESSIONS).default("none"),
    filters: ExportFiltersSchema.default({}),
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
export type CreateExport = z.infer<typeof CreateExportSchema>;

export const ManifestFileSchema = z
  .object({
    uri: z.string().openapi({ example: "s3://acme-audit-archive/scaivault/2026-10/part-00000.jsonl.gz" }),
    records: z.number().int(),
    bytes: z.number().int().openapi({ description: "Size of the stored object (after compression)." }),
    sha256: z.string().openapi({ description: "Hex SHA-256 of the stored object's bytes." }),
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
