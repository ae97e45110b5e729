/**
 * The three object-store emulators with a bucket/container each, plus what the export tests need:
 * a secrets file holding each destination's credentials, destination bodies, and a reader that
 * downloads what an export wrote.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type AzuriteServer,
  type ObjectStoreServer,
  startAzurite,
  startGcs,
  startS3,
} from "./object-stores.ts";

export type Kind = "s3" | "gcs" | "azure_blob";
export const BUCKET = "audit-archive";
const S3_KEYS = { access_key_id: "testing", secret_access_key: "testing" };

export interface Destinations {
  allowlist: string[];
  /** The S3 endpoint itself, for a gate in front of it. */
  s3Endpoint: string;
  secretsFile: string;
  /** Writes the secrets file with each destination's secret under `secret/<kind>` for these tenants. */
  grant(tenants: string[]): Promise<void>;
  destination(kind: Kind, prefix: string, patch?: Record<string, unknown>): Record<string, unknown>;
  /** Every object under `prefix`: name (without prefix) → bytes. */
  read(kind: Kind, prefix: string): Promise<Map<string, Buffer>>;
  stop(): Promise<void>;
}

export async function startDestinations(): Promise<Destinations> {
  const [s3, gcs, azure] = await Promise.all([startS3(), startGcs(), startAzurite()]);
  const dir = await mkdtemp(path.join(tmpdir(), "scaivault-secrets-"));
  const secretsFile = path.join(dir, "secrets.json");

  const s3Client = new S3Client({
    region: "us-east-1",
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_KEYS.access_key_id, secretAccessKey: S3_KEYS.secret_access_key },
  });
  await s3Client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const storage = new Storage({ apiEndpoint: gcs.endpoint, projectId: "test" });
  await storage.createBucket(BUCKET);
  const container = new ContainerClient(
    `${(azure as AzuriteServer).blobEndpoint}/${BUCKET}`,
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  );
  await container.create();

  const secrets = {
    s3: S3_KEYS,
    // fake-gcs-server takes any credentials (the client does not authenticate to a custom endpoint).
    gcs: { client_email: "exporter@test.iam.gserviceaccount.com", private_key: "unused-by-the-emulator" },
    azure_blob: { connection_string: azure.connectionString },
  };

  return {
    allowlist: [s3.endpoint, gcs.endpoint, azure.endpoint],
    s3Endpoint: s3.endpoint,
    secretsFile,
    async grant(tenants) {
      const byPath = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`secret/${k}`, v]));
      await writeFile(secretsFile, JSON.stringify(Object.fromEntries(tenants.map((t) => [t, byPath]))));
    },
    destination(kind, prefix, patch = {}) {
      const common = { prefix, credentials_secret: `secret/${kind}` };
      if (kind === "s3")
        return {
          type: "s3",
          bucket: BUCKET,
          region: "us-east-1",
          endpoint: s3.endpoint,
          ...common,
          ...patch,
        };
      if (kind === "gcs") return { type: "gcs", bucket: BUCKET, endpoint: gcs.endpoint, ...common, ...patch };
      return { type: "azure_blob", container: BUCKET, endpoint: azure.blobEndpoint, ...common, ...patch };
    },
    async read(kind, prefix) {
      const out = new Map<string, Buffer>();
      if (kind === "s3") {
        const list = await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
        for (const o of list.Contents ?? []) {
          const got = await s3Client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
          out.set(
            (o.Key as string).slice(prefix.length),
            Buffer.from(await (got.Body as any).transformToByteArray()),
          );
        }
      } else if (kind === "gcs") {
        const [files] = await storage.bucket(BUCKET).getFiles({ prefix });
        for (const f of files) out.set(f.name.slice(prefix.length), (await f.download())[0]);
      } else {
        for await (const b of container.listBlobsFlat({ prefix })) {
          out.set(b.name.slice(prefix.length), await container.getBlockBlobClient(b.name).downloadToBuffer());
        }
      }
      return out;
    },
    async stop() {
      s3Client.destroy();
      await Promise.all([s3, gcs, azure].map((s: ObjectStoreServer) => s.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A pass-through HTTP proxy in front of an object store that can hold every request until told to
 * go on: a test pins an export at "snapshot taken, nothing uploaded yet" deterministically.
 */
export async function startGate(target: string): Promise<{
  endpoint: string;
  hold(): void;
  release(): void;
  /** Resolves once a request is waiting at the gate. */
  reached(): Promise<void>;
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  let open = true;
  let opened: () => void = () => {};
  let gate = Promise.resolve();
  let arrived: () => void = () => {};
  let arrival = new Promise<void>((r) => (arrived = r));
  const server = createServer((req, res) => {
    arrived();
    void gate.then(() => {
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hold() {
      if (!open) return;
      open = false;
      arrival = new Promise<void>((r) => (arrived = r));
      gate = new Promise<void>((r) => (opened = r));
    },
    release() {
      open = true;
      opened();
    },
    reached: () => arrival,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
