/**
 * @module destinations/object-stores/gcs
 * Google Cloud Storage: resumable upload with the official SDK, authenticated with a
 * service-account key from the secret; redirects are never followed.
 */

import { pipeline } from "node:stream/promises";
import { Storage } from "@google-cloud/storage";
import { z } from "@hono/zod-openapi";
import { JWT } from "google-auth-library";
import { secretPath } from "../credentials.ts";
import { endpoint, type ObjectStoreType, prefix, refusal } from "./common.ts";

const schema = z
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

const credentials = z.object({
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  project_id: z.string().min(1).optional(),
});

export const gcs = {
  type: "gcs",
  schema,
  credentials,
  expected: "a service-account key (client_email, private_key)",
  endpoints: (d) => ({ endpoint: d.endpoint }),
  open(dest, secret) {
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
        await pipeline(body, bucket.file(key).createWriteStream({ resumable: true, contentType }), {
          signal,
        });
      },
      async remove(key) {
        await bucket.file(key).delete({ ignoreNotFound: true });
      },
    };
  },
  describe(err) {
    // The Google client throws ApiError (or gaxios errors) with the HTTP status as a numeric code.
    const e = err as { name?: string; code?: unknown; meta?: unknown } | undefined;
    if (e?.meta !== undefined || !(e?.name === "ApiError" || typeof e?.code === "number")) return undefined;
    return refusal(e.name ?? "error", typeof e.code === "number" ? e.code : undefined);
  },
} satisfies ObjectStoreType<z.infer<typeof schema>, z.infer<typeof credentials>>;
