/**
 * @module destinations/receiver
 * Where delivery sends events: each receiver type (a SIEM's intake: webhook, Splunk HEC, syslog over
 * TLS, Kafka) is one module implementing `ReceiverType` — its `config` schema, the
 * formats it carries, the credentials its secret must hold, the hosts that must pass the
 * allowlist, and how to open it — registered in `RECEIVERS`. The object stores exports write to
 * are the same kind of unit beside these (destinations/object-store).
 */
import type { z } from "@hono/zod-openapi";
import type { FieldError } from "../errors.ts";
import type { Format } from "../formats/formats.ts";
import { endpointRefusal, type Scheme } from "./allowlist.ts";
import { type SecretValue, secretAs } from "./credentials.ts";
import { DestinationError } from "./errors.ts";
import { kafka } from "./receivers/kafka.ts";
import { splunkHec } from "./receivers/splunk-hec.ts";
import { syslog } from "./receivers/syslog.ts";
import { webhook } from "./receivers/webhook.ts";

export type { Format };

/** One event, formatted for the destination: what every receiver sends. */
export interface Outgoing {
  /** The event id: every message carries it, so a receiver can drop a re-sent one. */
  id: string;
  /** The event's instant (API form, microseconds). */
  time: string;
  action: string;
  /** The secret path the event is about. */
  subject: string;
  success: boolean;
  /** The event in the destination's format: an object (json, ocsf) or a line (cef). */
  data: Record<string, unknown> | string;
}

/** An open destination. */
export interface Receiver {
  /**
   * Sends a batch in order; resolves once the receiver acknowledged all of it, else throws a
   * DestinationError with what the receiver answered (no secrets).
   */
  send(batch: Outgoing[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface OpenContext {
  tenant: string;
  destinationId: string;
  /** Per request to the receiver. */
  timeoutMs: number;
  /** Why the allowlist refuses a URL the receiver learns of after opening (a Kafka cluster's brokers), or undefined. */
  refuse(url: string): string | undefined;
}

export interface ReceiverType<T extends string, C, S> {
  type: T;
  /** The destination's `config` (strict: a credential here is refused by name first). */
  config: z.ZodType<C>;
  /** The formats it carries; the first is the default. */
  formats: readonly [Format, ...Format[]];
  /** The shape its credentials secret must hold, and how to say it when it does not. */
  credentials: z.ZodType<S>;
  expected: string;
  /** Where it connects, as URLs of `schemes`, by field: each must pass the allowlist. */
  endpoints(c: C): Record<string, string | undefined>;
  schemes: readonly Scheme[];
  open(c: C, secret: S, ctx: OpenContext): Receiver;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry of heterogeneous receiver types
type AnyReceiverType = ReceiverType<string, any, any>;

/** Every receiver a destination can be. */
export const RECEIVERS = [webhook, splunkHec, syslog, kafka] as const satisfies readonly AnyReceiverType[];
export type ReceiverName = (typeof RECEIVERS)[number]["type"];

const typeOf = (type: string): AnyReceiverType | undefined => RECEIVERS.find((r) => r.type === type);

/** A destination's `config` for `type` (validated against that type's schema). */
export function configSchema(type: ReceiverName): z.ZodType {
  return (typeOf(type) as AnyReceiverType).config;
}

export function formatsOf(type: ReceiverName): readonly Format[] {
  return (typeOf(type) as AnyReceiverType).formats;
}

/** The destination's URLs that the allowlist refuses, as field errors (`config.url`). */
export function refusedReceiverEndpoints(
  type: ReceiverName,
  config: unknown,
  allowlist: readonly string[],
): FieldError[] {
  const t = typeOf(type) as AnyReceiverType;
  return Object.entries(t.endpoints(config)).flatMap(([field, url]) => {
    const refusal = url === undefined ? undefined : endpointRefusal(url, allowlist, t.schemes);
    return refusal ? [{ field: `config.${field}`, message: refusal }] : [];
  });
}

/** Opens the destination with its resolved secret, or fails with endpoint_not_allowed / secret_invalid. */
export function openReceiver(
  type: ReceiverName,
  config: unknown,
  secret: SecretValue,
  allowlist: readonly string[],
  ctx: Omit<OpenContext, "refuse">,
): Receiver {
  const refused = refusedReceiverEndpoints(type, config, allowlist)[0];
  if (refused)
    throw new DestinationError("endpoint_not_allowed", `the destination endpoint ${refused.message}`);
  const t = typeOf(type) as AnyReceiverType;
  return t.open(config, secretAs(t.credentials, secret, t.expected), {
    ...ctx,
    refuse: (url) => endpointRefusal(url, allowlist, t.schemes),
  });
}

/** What a receiver answered, as a status may show it: one line, bounded, no control characters. */
export function answerText(text: string, max = 300): string {
  const line = text.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
