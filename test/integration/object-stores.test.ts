/**
 * The object-store emulators the export tests run against (moto for S3, fake-gcs-server for GCS,
 * Azurite for Azure Blob) start, take a streamed object through each real SDK, and stop without
 * leftovers. A failure here most likely means an install step of .ci/run did not run.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AzuriteServer,
  type ObjectStoreServer,
  startAzurite,
  startGcs,
  startS3,
} from "../support/object-stores.ts";
import { alive } from "../support/process.ts";

const payload = Buffer.from(`${"audit line\n".repeat(1000)}the end\n`);

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe("object-store emulators", () => {
  let s3: ObjectStoreServer;
  let gcs: ObjectStoreServer;
  let azure: AzuriteServer;

  beforeAll(async () => {
    [s3, gcs, azure] = await Promise.all([startS3(), startGcs(), startAzurite()]);
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), gcs?.stop(), azure?.stop()]);
  });

  it("S3 (moto): a streamed multipart-capable upload reads back byte for byte", async () => {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: "exports" }));
      await new Upload({
        client,
        params: { Bucket: "exports", Key: "a/b.ndjson", Body: Readable.from([payload]) },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      }).done();
      const got = await client.send(new GetObjectCommand({ Bucket: "exports", Key: "a/b.ndjson" }));
      expect(await bytesOf(got.Body as Readable)).toEqual(payload);
    } finally {
      client.destroy();
    }
  });

  it("GCS (fake-gcs-server): a resumable upload reads back byte for byte", async () => {
    const storage = new Storage({ apiEndpoint: gcs.endpoint, projectId: "test" });
    await storage.createBucket("exports");
    const file = storage.bucket("exports").file("a/b.ndjson");
    await pipeline(Readable.from([payload]), file.createWriteStream({ resumable: true }));
    expect(await bytesOf(file.createReadStream())).toEqual(payload);
  });

  it("Azure Blob (Azurite): uploadStream reads back byte for byte", async () => {
    expect(azure.blobEndpoint).toBe(`${azure.endpoint}/devstoreaccount1`);
    const service = new BlobServiceClient(
      azure.blobEndpoint,
      new StorageSharedKeyCredential(azure.accountName, azure.accountKey),
    );
    const container = service.getContainerClient("exports");
    await container.create();
    const blob = container.getBlockBlobClient("a/b.ndjson");
    await blob.uploadStream(Readable.from([payload]), 4 * 1024 * 1024, 2);
    const viaConnectionString = BlobServiceClient.fromConnectionString(azure.connectionString)
      .getContainerClient("exports")
      .getBlockBlobClient("a/b.ndjson");
    const got = await viaConnectionString.download();
    expect(
      await bytesOf(got.readableStreamBody as NodeJS.ReadableStream as AsyncIterable<Uint8Array>),
    ).toEqual(payload);
  });

  it("stop() ends each server process and frees its port", async () => {
    const servers = [s3, gcs, azure];
    for (const s of servers) expect(alive(s.pid)).toBe(true);
    await Promise.all(servers.map((s) => s.stop()));
    for (const s of servers) {
      expect(alive(s.pid)).toBe(false);
      await expect(fetch(s.endpoint)).rejects.toThrow();
    }
  });
});
