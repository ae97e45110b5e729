/**
 * The Kafka broker the delivery tests run against (test/support/kafka.ts) starts, takes records from
 * @platformatic/kafka (the library the service produces with) over PLAINTEXT and SASL/PLAIN, hands
 * them to Kafka's own console consumer exactly and in order, and stops without leftovers. A failure
 * here most likely means the Kafka step of .ci/run did not run.
 */
import { connect } from "node:net";
import { ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { monotonicFactory } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumeAll, type KafkaBroker, type SaslPlain, startKafka } from "../support/kafka.ts";
import { alive } from "../support/process.ts";

// Quotes, a backslash and spaces: the broker's JAAS line and the consumer's must escape them.
const user: SaslPlain = { username: "delivery", password: 'pa ss"w\\ord=1;' };

function producer(bootstrap: string, sasl?: SaslPlain) {
  return new Producer({
    clientId: "kafka-broker-test",
    bootstrapBrokers: [bootstrap],
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: true,
    // Not 0 or 1: with those, @platformatic/kafka 2.12.1 retried a refused login without end here.
    retries: 3,
    ...(sasl ? { sasl: { mechanism: "PLAIN" as const, ...sasl } } : {}),
  });
}

function portOpen(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(":");
  return new Promise((resolve) => {
    const s = connect({ host: host as string, port: Number(port) });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("Kafka broker", () => {
  let kafka: KafkaBroker;

  beforeAll(async () => {
    kafka = await startKafka({ sasl: user });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  it("100 idempotent records (acks all) read back by the console consumer: same keys, values, headers, order", async () => {
    const ids = Array.from({ length: 100 }, monotonicFactory());
    // Raw newlines and tabs in some values: the consumer's output must still split right.
    const values = ids.map(
      (id, n) => JSON.stringify({ n, id, note: "ünïcødé ✓" }) + (n % 10 === 0 ? "\n\tline two" : ""),
    );
    const p = producer(kafka.bootstrap);
    try {
      // Four requests of 25: the order across requests counts, not just within one batch.
      for (let i = 0; i < 100; i += 25) {
        await p.send({
          messages: ids.slice(i, i + 25).map((id, j) => ({
            topic: "audit",
            key: id,
            value: values[i + j] as string,
            headers: { n: `${i + j}` },
          })),
        });
      }
    } finally {
      await p.close();
    }
    const got = await consumeAll(kafka.bootstrap, "audit", { maxMessages: 100, timeoutMs: 10_000 });
    expect(got.map((r) => r.key)).toEqual(ids);
    expect(got.map((r) => r.value)).toEqual(values);
    expect(got.map((r) => r.headers)).toEqual(ids.map((_, n) => ({ n: `${n}` })));
    expect(got.map((r) => [r.partition, r.offset])).toEqual(ids.map((_, n) => [0, n]));
  });

  it("SASL/PLAIN: the configured user produces and consumes; a wrong password is refused", async () => {
    expect(kafka.saslBootstrap).toBeDefined();
    const sasl = kafka.saslBootstrap as string;
    const p = producer(sasl, user);
    try {
      await p.send({ messages: [{ topic: "audit-sasl", key: "k1", value: "v1" }] });
    } finally {
      await p.close();
    }
    const got = await consumeAll(sasl, "audit-sasl", { maxMessages: 1, timeoutMs: 10_000, sasl: user });
    expect(got.map((r) => [r.key, r.value])).toEqual([["k1", "v1"]]);

    const wrong = producer(sasl, { ...user, password: "wrong" });
    try {
      await expect(
        wrong.send({ messages: [{ topic: "audit-sasl", key: "k2", value: "v2" }] }),
      ).rejects.toThrow();
    } finally {
      await wrong.close().catch(() => {});
    }
    // The client only says it could not connect; the broker says why.
    expect(kafka.output()).toMatch(/Failed authentication with .*Invalid username or password/);
  });

  it("stop() ends the broker's process and frees its ports", async () => {
    expect(alive(kafka.pid)).toBe(true);
    await kafka.stop();
    expect(alive(kafka.pid)).toBe(false);
    // Nothing of its process group is left either.
    expect(() => process.kill(-kafka.pid, 0)).toThrow();
    expect(await portOpen(kafka.bootstrap)).toBe(false);
    expect(await portOpen(kafka.saslBootstrap as string)).toBe(false);
  });
});
