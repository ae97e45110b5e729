/**
 * @module destinations/object-stores/s3
 * Amazon S3 (and S3-compatible stores at an allowlisted `endpoint`): multipart upload with the
 * official SDK (lib-storage), 5 MiB parts, 2 in flight; nothing is visible until it completes.
 */
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { z } from "@hono/zod-openapi";
import { secretPath } from "../credentials.ts";
import { endpoint, type ObjectStoreType, prefix, refusal } from "./common.ts";

/** S3's minimum part size: each part in flight is a buffer this big. */
const PART_SIZE = 5 * 1024 * 1024;

const schema = z
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

const credentials = z.object({
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  session_token: z.string().min(1).optional(),
});

export const s3 = {
  type: "s3",
  schema,
  credentials,
  expected: "access_key_id and secret_access_key",
  endpoints: (d) => ({ endpoint: d.endpoint }),
  open(dest, secret) {
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
  },
  describe(err) {
    // The AWS SDK's errors carry $metadata with the HTTP status.
    const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    if (e?.$metadata === undefined) return undefined;
    return refusal(e.Code ?? e.name ?? "error", e.$metadata.httpStatusCode);
  },
} satisfies ObjectStoreType<z.infer<typeof schema>, z.infer<typeof credentials>>;
