/**
 * @module destinations/object-store
 * Where exports write files: each object store is one module implementing `ObjectStoreType` —
 * the destination's request schema, the credentials its secret must hold, the custom hosts that
 * must pass the allowlist, how to open an upload, and how to describe its SDK's errors — and is
 * registered in `OBJECT_STORES`. Adding a store means adding a file to object-stores/ and a line
 * here. (Delivery receivers — webhook, Splunk HEC, syslog, Kafka — will be the same kind of unit
 * beside these, behind an interface of their own in destinations/.)
 */
import { z } from "@hono/zod-openapi";
import type { FieldError } from "../errors.ts";
import { endpointRefusal } from "./allowlist.ts";
import { type SecretValue, secretAs } from "./credentials.ts";
import { DestinationError } from "./errors.ts";
import { azureBlob } from "./object-stores/azure-blob.ts";
import type { ObjectStoreType, Store } from "./object-stores/common.ts";
import { gcs } from "./object-stores/gcs.ts";
import { s3 } from "./object-stores/s3.ts";

// biome-ignore lint/suspicious/noExplicitAny: a registry of heterogeneous store types
type AnyStoreType = ObjectStoreType<any, any>;

/** Every object store an export can write to. */
export const OBJECT_STORES = [s3, gcs, azureBlob] as const satisfies readonly AnyStoreType[];

/** The registry's schemas, as the tuple discriminatedUnion wants. */
const schemas = <T extends readonly { schema: unknown }[]>(types: T) =>
  types.map((t) => t.schema) as { -readonly [K in keyof T]: T[K]["schema"] };

export const DestinationSchema = z.discriminatedUnion("type", schemas(OBJECT_STORES));
export type Destination = z.infer<typeof DestinationSchema>;

const typeOf = (d: Destination): AnyStoreType => OBJECT_STORES.find((s) => s.type === d.type) as AnyStoreType;

/** The destination's custom hosts that the allowlist refuses, as field errors. */
export function refusedEndpoints(d: Destination, allowlist: readonly string[]): FieldError[] {
  return Object.entries(typeOf(d).endpoints(d)).flatMap(([field, url]) => {
    const refusal = url === undefined ? undefined : endpointRefusal(url, allowlist);
    return refusal ? [{ field: `destination.${field}`, message: refusal }] : [];
  });
}

/** Opens the destination with its resolved secret, or fails with endpoint_not_allowed / secret_invalid. */
export function openStore(d: Destination, secret: SecretValue, allowlist: readonly string[]): Store {
  const refused = refusedEndpoints(d, allowlist)[0];
  if (refused)
    throw new DestinationError("endpoint_not_allowed", `the destination endpoint ${refused.message}`);
  const type = typeOf(d);
  return type.open(d, secretAs(type.credentials, secret, type.expected));
}

/** A store SDK's error as a customer-facing message, or undefined when no store's SDK threw it. */
export function describeStoreError(err: unknown): string | undefined {
  for (const s of OBJECT_STORES) {
    const described = s.describe(err);
    if (described) return described;
  }
  return undefined;
}

export type { ObjectStoreType, Store };
