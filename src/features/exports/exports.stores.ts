/**
 * @module features/exports/stores
 * The three destinations behind one small interface, each with its provider's official SDK and
 * streaming upload: S3 multipart (lib-storage), GCS resumable, Azure block blob (staged blocks).
 * Until an upload completes nothing is visible, so an interrupted file never looks finished.
 * Credentials come from the resolved secret; the host only from the destination, checked against
 * the allowlist (a connection string's own endpoint is ignored).
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import { JWT } from "google-auth-library";
import { z } from "zod";
import { endpointRefusal } from "./exports.endpoints.ts";
import { ExportFailure } from "./exports.errors.ts";
import type { Destination } from "./exports.schema.ts";
import type { SecretValue } from "./exports.secrets.ts";

export interface Store {
  /** Where `key` ends up, as the manifest names it. */
  uri(key: string): string;
  /** Streams `body` to `key`; rejects when the upload fails or `signal` aborts (nothing is left visible). */
  put(key: string, body: Readable, opts: { contentType: string; signal: AbortSignal }): Promise<void>;
  remove(key: string): Promise<void>;
}

/** S3's minimum part size: each part in flight is a buffer this big. */
const PART_SIZE = 5 * 1024 * 1024;

const S3Secret = z.object({
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  session_token: z.string().min(1).optional(),
});

const GcsSecret = z.object({
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  project_id: z.string().min(1).optional(),
});

const AzureSecret = z.union([
  z.object({ connection_string: z.string().min(1) }),
  z.object({ account_name: z.string().min(1), account_key: z.string().min(1) }),
  z.object({ sas_token: z.string().min(1) }),
]);

function secretAs<T>(schema: z.ZodType<T>, secret: SecretValue, expected: string): T {
  const parsed = schema.safeParse(secret);
  if (!parsed.success)
    throw new ExportFailure("secret_invalid", `the credentials secret does not hold ${expected}`);
  return parsed.data;
}

/** Builds the destination's store, or fails with endpoint_not_allowed / secret_invalid. */
export function openStore(dest: Destination, secret: SecretValue, allowlist: readonly string[]): Store {
  const custom = dest.type === "azure_blob" ? (dest.endpoint ?? dest.container_url) : dest.endpoint;
  if (custom !== undefined) {
    const refusal = endpointRefusal(custom, allowlist);
    if (refusal) throw new ExportFailure("endpoint_not_allowed", `the destination endpoint ${refusal}`);
  }
  switch (dest.type) {
    case "s3":
      return s3Store(dest, secretAs(S3Secret, secret, "access_key_id and secret_access_key"));
    case "gcs":
      return gcsStore(dest, secretAs(GcsSecret, secret, "a service-account key (client_email, private_key)"));
    case "azure_blob":
      return azureStore(
        dest,
        secretAs(AzureSecret, secret, "connection_string, account_name + account_key, or sas_token"),
      );
  }
}

function s3Store(dest: Extract<Destination, { type: "s3" }>, secret: z.infer<typeof S3Secret>): Store {
  const client = new S3Client({
    region: dest.region,
    credentials: {
      accessKeyId: secret.access_key_id,
      secretAccessKey: secret.secret_access_key,
      ...(secret.session_token ? { sessionToken: secret.session_token } : {}),
    },
    ...(dest.endpoint ? { endpoint: dest.endpoint, forcePathStyle: true } : {}),
    // Checksums only where S3 requires them: S3-compatible stores differ on the newer trailers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    followRegionRedirects: false,
    maxAttempts: 4,
  });
  return {
    uri: (key) => `s3://${dest.bucket}/${key}`,
    async put(key, body, { contentType, signal }) {
      const upload = new Upload({
        client,
        params: { Bucket: dest.bucket, Key: key, Body: body, ContentType: contentType },
        partSize: PART_SIZE,
        queueSize: 2,
        leavePartsOnError: false,
      });
      const abort = () => void upload.abort();
      signal.addEventListener("abort", abort, { once: true });
      try {
        if (signal.aborted) throw signal.reason;
        await upload.done();
      } finally {
        signal.removeEventListener("abort", abort);
      }
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: dest.bucket, Key: key }));
    },
  };
}

function gcsStore(dest: Extract<Destination, { type: "gcs" }>, secret: z.infer<typeof GcsSecret>): Store {
  const storage = new Storage({
    authClient: new JWT({
      email: secret.client_email,
      key: secret.private_key,
      scopes: ["https://www.googleapis.com/auth/devstorage.read_write"],
    }),
    ...(secret.project_id ? { projectId: secret.project_id } : {}),
    ...(dest.endpoint ? { apiEndpoint: dest.endpoint } : {}),
    retryOptions: { autoRetry: true, maxRetries: 3 },
  });
  // Uploads go through gaxios, which follows redirects unless told not to: a token must not follow one.
  storage.interceptors.push({
    request: (o) => Object.assign(o, { maxRedirects: 0 }) as never,
  });
  const bucket = storage.bucket(dest.bucket);
  return {
    uri: (key) => `gs://${dest.bucket}/${key}`,
    async put(key, body, { contentType, signal }) {
      await pipeline(body, bucket.file(key).createWriteStream({ resumable: true, contentType }), { signal });
    },
    async remove(key) {
      await bucket.file(key).delete({ ignoreNotFound: true });
    },
  };
}

/** AccountName / AccountKey / SharedAccessSignature of a connection string (its endpoints are not used). */
function connectionStringParts(cs: string): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const pair of cs.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0) parts[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return parts;
}

function azureStore(
  dest: Extract<Destination, { type: "azure_blob" }>,
  secret: z.infer<typeof AzureSecret>,
): Store {
  let account: string | undefined;
  let key: string | undefined;
  let sas: string | undefined;
  if ("connection_string" in secret) {
    const parts = connectionStringParts(secret.connection_string);
    account = parts.AccountName;
    key = parts.AccountKey;
    sas = parts.SharedAccessSignature;
    if (!(account && key) && !sas)
      throw new ExportFailure(
        "secret_invalid",
        "the connection string has neither AccountName + AccountKey nor SharedAccessSignature",
      );
  } else if ("account_name" in secret) {
    account = secret.account_name;
    key = secret.account_key;
  } else sas = secret.sas_token;

  const base = dest.container_url
    ? dest.container_url.replace(/\/+$/, "")
    : `${(dest.endpoint ?? `https://${dest.account}.blob.core.windows.net`).replace(/\/+$/, "")}/${dest.container}`;
  const url = sas ? `${base}?${sas.replace(/^\?/, "")}` : base;
  // The pipeline follows same-origin redirects (even for PUT) unless told not to; the option
  // works at run time but is missing from the SDK's option type.
  const options = { redirectOptions: { maxRetries: 0 } } as object;
  const container =
    key && account
      ? new ContainerClient(url, new StorageSharedKeyCredential(account, key), options)
      : new ContainerClient(url, undefined, options);
  return {
    uri: (name) => `${base}/${name}`,
    async put(name, body, { contentType, signal }) {
      await container.getBlockBlobClient(name).uploadStream(body, 4 * 1024 * 1024, 2, {
        abortSignal: signal,
        blobHTTPHeaders: { blobContentType: contentType },
      });
    },
    async remove(name) {
      await container.getBlockBlobClient(name).deleteIfExists();
    },
  };
}

/** A store error as a customer-facing message: the provider's code and HTTP status, nothing raw. */
export function describeStoreError(err: unknown): string {
  const e = err as {
    name?: string;
    code?: string | number;
    statusCode?: number;
    $metadata?: { httpStatusCode?: number };
    Code?: string;
  };
  const code = e.Code ?? (typeof e.code === "string" ? e.code : undefined) ?? e.name ?? "error";
  const status =
    e.$metadata?.httpStatusCode ?? e.statusCode ?? (typeof e.code === "number" ? e.code : undefined);
  return `the destination refused the upload: ${code}${status ? ` (HTTP ${status})` : ""}`;
}
