/**
 * @module destinations/object-stores/azure-blob
 * Azure Blob Storage: block blob upload (staged 4 MiB blocks, committed at the end) with the
 * official SDK. The host comes only from the destination (`account`, `container_url` or an
 * allowlisted `endpoint`): a connection string's own endpoints are ignored.
 */
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { z } from "@hono/zod-openapi";
import { secretPath } from "../credentials.ts";
import { DestinationError } from "../errors.ts";
import { endpoint, type ObjectStoreType, prefix, refusal } from "./common.ts";

const schema = z
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
  .openapi("AzureBlobDestination", {
    // Exactly one way to name the container (what the refinement above checks).
    oneOf: [{ required: ["account"] }, { required: ["container_url"] }, { required: ["endpoint"] }],
  });

const credentials = z.union([
  z.object({ connection_string: z.string().min(1) }),
  z.object({ account_name: z.string().min(1), account_key: z.string().min(1) }),
  z.object({ sas_token: z.string().min(1) }),
]);

/** AccountName / AccountKey / SharedAccessSignature of a connection string (its endpoints are not used). */
function connectionStringParts(cs: string): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const pair of cs.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0) parts[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return parts;
}

export const azureBlob = {
  type: "azure_blob",
  schema,
  credentials,
  expected: "connection_string, account_name + account_key, or sas_token",
  endpoints: (d) => ({ endpoint: d.endpoint, container_url: d.container_url }),
  open(dest, secret) {
    let account: string | undefined;
    let key: string | undefined;
    let sas: string | undefined;
    if ("connection_string" in secret) {
      const parts = connectionStringParts(secret.connection_string);
      account = parts.AccountName;
      key = parts.AccountKey;
      sas = parts.SharedAccessSignature;
      if (!(account && key) && !sas)
        throw new DestinationError(
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
  },
  describe(err) {
    // The Azure SDK throws RestError with the HTTP status and the service's error code.
    const e = err as { name?: string; code?: string; statusCode?: number } | undefined;
    if (e?.name !== "RestError") return undefined;
    return refusal(e.code ?? e.name, e.statusCode);
  },
} satisfies ObjectStoreType<z.infer<typeof schema>, z.infer<typeof credentials>>;
