/**
 * @module destinations/receivers/kafka
 * A topic on a Kafka cluster, written by an idempotent producer (`@platformatic/kafka`, acks from
 * all in-sync replicas): one record per event, key = the event id (a consumer drops a re-sent one
 * by it; records of one id land on one partition), value = the event, headers naming the tenant
 * and the format. A batch is acknowledged when the cluster acknowledged every record. The brokers
 * the cluster advertises are checked against the allowlist too — a client connects to those, not
 * only to the bootstrap brokers configured.
 */

import { z } from "@hono/zod-openapi";
import { ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { HOST, PORT } from "../allowlist.ts";
import { DestinationError } from "../errors.ts";
import { answerText, type Outgoing, type ReceiverType } from "../receiver.ts";

const asUrl = (hostPort: string) => `kafka://${hostPort}`;

const broker = z
  .string()
  .max(260)
  .regex(new RegExp(`^${HOST}:${PORT}$`), "must be host:port (a host name or an IPv4 address)");

const config = z
  .object({
    brokers: z.array(broker).min(1).max(16).openapi({
      description:
        "Bootstrap brokers, `host:port`; each broker the cluster advertises must be in EXPORT_ENDPOINT_ALLOWLIST as `kafka://host:port`.",
    }),
    topic: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, "must be a Kafka topic name (letters, digits, '.', '_', '-')")
      .refine((t) => t !== "." && t !== "..", "must be a Kafka topic name"),
    tls: z.boolean().default(true).openapi({ description: "TLS to the brokers (default true)." }),
    ca_pem: z
      .string()
      .max(64 * 1024)
      .regex(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, "must be PEM certificates")
      .optional(),
    sasl: z.enum(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]).optional().openapi({
      description: "SASL mechanism; the username and password come from the credentials secret.",
    }),
  })
  .strict()
  .openapi("KafkaConfig");
type Config = z.infer<typeof config>;

const credentials = z.object({
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  client_cert: z.string().min(1).optional(),
  client_key: z.string().min(1).optional(),
});

/** What went wrong, in the client's words without anything it may echo of a request. */
const described = (err: unknown) => {
  const e = err as Error & { errors?: Error[]; cause?: Error };
  const inner = e.errors?.[0] ?? e.cause;
  return answerText(inner ? `${e.message}: ${inner.message}` : e.message, 240);
};

export const kafka = {
  type: "kafka",
  config,
  formats: ["json", "ocsf"],
  credentials,
  expected: "username and password for SASL (when config.sasl is set), optionally client_cert and client_key",
  endpoints: (c) => Object.fromEntries(c.brokers.map((b, i) => [`brokers.${i}`, asUrl(b)])),
  schemes: ["kafka:"],
  open(c, secret, ctx) {
    if (c.sasl && !(secret.username && secret.password))
      throw new DestinationError(
        "secret_invalid",
        "the credentials secret does not hold username and password",
      );
    const producer = new Producer({
      clientId: `scaivault-audit-${ctx.destinationId}`,
      bootstrapBrokers: c.brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      autocreateTopics: false,
      timeout: ctx.timeoutMs,
      connectTimeout: ctx.timeoutMs,
      retries: 0,
      ...(c.tls
        ? {
            tls: {
              ...(c.ca_pem ? { ca: c.ca_pem } : {}),
              ...(secret.client_cert && secret.client_key
                ? { cert: secret.client_cert, key: secret.client_key }
                : {}),
            },
          }
        : {}),
      ...(c.sasl
        ? { sasl: { mechanism: c.sasl, username: secret.username, password: secret.password } }
        : {}),
    });
    // The brokers the cluster advertises are where records go: each must be allowed too.
    let refused: string | undefined;
    producer.on("client:metadata", (m) => {
      for (const b of m.brokers.values()) {
        const why = ctx.refuse(asUrl(`${b.host.includes(":") ? `[${b.host}]` : b.host}:${b.port}`));
        if (why) refused = `the cluster advertises a broker whose ${why}`;
      }
    });
    /**
     * Every call is bounded here: the client may retry a refused SASL login forever without
     * reporting it, and an abandoned call leaves the producer unusable, so it is closed (the
     * deliverer opens the destination again for the next try).
     */
    const bounded = async <T>(what: Promise<T>, signal: AbortSignal): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const stop = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new DestinationError(
                "destination_error",
                `the Kafka cluster did not answer within ${ctx.timeoutMs} ms (unreachable, or it refused the SASL login)`,
              ),
            ),
          ctx.timeoutMs,
        );
        signal.addEventListener(
          "abort",
          () => reject(new DestinationError("destination_error", "abandoned: the service is stopping")),
          { once: true },
        );
      });
      try {
        return await Promise.race([what, stop]);
      } catch (err) {
        void producer.close(true).catch(() => {});
        if (err instanceof DestinationError) throw err;
        throw new DestinationError(
          "destination_error",
          `the Kafka cluster did not take the batch (${described(err)})`,
        );
      } finally {
        clearTimeout(timer);
      }
    };
    return {
      async send(batch: Outgoing[], signal: AbortSignal) {
        if (batch.length === 0) return;
        if (!refused) await bounded(producer.metadata({ topics: [c.topic] }), signal);
        if (refused) throw new DestinationError("endpoint_not_allowed", refused);
        await bounded(
          producer.send({
            messages: batch.map((e) => ({
              topic: c.topic,
              key: e.id,
              value: typeof e.data === "string" ? e.data : JSON.stringify(e.data),
              headers: {
                "scaivault-tenant": ctx.tenant,
                "content-type": typeof e.data === "string" ? "text/plain" : "application/json",
              },
            })),
          }),
          signal,
        );
      },
      async close() {
        await producer.close(true).catch(() => {});
      },
    };
  },
} as const satisfies ReceiverType<"kafka", Config, z.infer<typeof credentials>>;
