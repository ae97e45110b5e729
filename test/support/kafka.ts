/**
 * A real Apache Kafka broker on loopback for integration tests: one KRaft node that is broker and
 * controller at once, with throwaway storage in a temporary folder. A start picks free ports, writes
 * server.properties, formats the storage with Kafka's storage tool, spawns `kafka.Kafka` in its own
 * process group, waits for its "Kafka Server started" line and then until a Metadata request on the
 * PLAINTEXT listener names this cluster and this broker, and returns its bootstrap address and a
 * `stop()`. With `sasl`, a SASL_PLAINTEXT listener (mechanism PLAIN) with that one user is added.
 *
 * consumeAll reads a topic with Kafka's own console consumer from the same jars: an independent
 * client, so that what the service produces with @platformatic/kafka is not checked by that library.
 *
 * The jars are found as test/support/tools says (kafkaLibs); the JDK as OpenSearch's (dev/jdk.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { findJdk } from "../../dev/jdk.ts";
import { freePort, stopPids } from "../../dev/local-cluster.ts";
import { kafkaLibs } from "./tools.ts";

export interface SaslPlain {
  username: string;
  password: string;
}

export interface KafkaOptions {
  /** Adds a SASL_PLAINTEXT listener (PLAIN) that accepts this user only; PLAINTEXT stays open. */
  sasl?: SaslPlain;
  timeoutMs?: number;
}

export interface KafkaBroker {
  /** The PLAINTEXT listener, `127.0.0.1:PORT`. */
  bootstrap: string;
  /** The SASL_PLAINTEXT listener, `127.0.0.1:PORT`, when started with `sasl`. */
  saslBootstrap?: string;
  clusterId: string;
  pid: number;
  /** The broker's latest output (at most 16,000 characters). */
  output(): string;
  /** SIGTERM to the broker's process group, SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface ConsumedRecord {
  partition: number;
  offset: number;
  /** A record without a key reads as the string "null": the console consumer prints both alike. */
  key: string;
  value: string;
  headers: Record<string, string>;
}

const LOG4J_CONFIG = fileURLToPath(new URL("kafka/log4j2.properties", import.meta.url));
const NODE_ID = 1;

// Brokers and consumers still running when this process exits (a test that forgot stop(), a crash)
// are killed, and their folders removed.
const running = new Map<number, string | undefined>();
process.once("exit", () => {
  for (const [pid, dir] of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

function java(): string {
  return path.join(findJdk({ javaHome: process.env.JAVA_HOME }).home, "bin", "java");
}

/** JVM options of every Kafka process here: small, quick to start (2 cores), logging as log4j2.properties says. */
function jvmArgs(libs: string, level: "INFO" | "WARN", heap: string): string[] {
  return [
    `-Xmx${heap}`,
    "-Xms64m",
    // One GC thread and no C2 compiler: these JVMs live seconds to a minute on a 2-core machine.
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    `-Dscaivault.kafka.log.level=${level}`,
    "-cp",
    `${libs}/*`,
  ];
}

/** A Kafka Uuid in its text form (URL-safe base64 of 16 bytes); like Kafka's, never starting with '-' (it would read as an option). */
function kafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** A value as a .properties line holds it literally (backslash is that format's escape). */
function prop(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** `sasl.jaas.config` for PLAIN; the parser reads quoted strings with Java escapes. */
function jaas(options: Record<string, string>): string {
  const quote = (s: string) => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  const opts = Object.entries(options).map(([k, v]) => ` ${k}=${quote(v)}`);
  return `org.apache.kafka.common.security.plain.PlainLoginModule required${opts.join("")};`;
}

function checkSasl(sasl: SaslPlain): void {
  // The user is a bare word in the JAAS line (user_<name>=...): letters, digits, '_' and '-' only.
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(sasl.username))
    throw new Error(`SASL username ${JSON.stringify(sasl.username)}: use letters, digits, '_' and '-'`);
  if (!/^[\x20-\x7e]+$/.test(sasl.password)) throw new Error("SASL password: printable ASCII only");
}

interface Ports {
  broker: number;
  controller: number;
  sasl?: number;
}

function serverProperties(dir: string, clusterPorts: Ports, sasl: SaslPlain | undefined): string {
  const { broker, controller } = clusterPorts;
  const listeners = [`PLAINTEXT://127.0.0.1:${broker}`, `CONTROLLER://127.0.0.1:${controller}`];
  const advertised = [`PLAINTEXT://127.0.0.1:${broker}`];
  const protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"];
  const lines = [
    "process.roles=broker,controller",
    `node.id=${NODE_ID}`,
    `controller.quorum.bootstrap.servers=127.0.0.1:${controller}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    `log.dirs=${prop(path.join(dir, "data"))}`,
    "num.partitions=1",
    "auto.create.topics.enable=true",
    // One broker: every internal topic with one replica, or producers with acks=all and consumer
    // groups wait for replicas that never come.
    "default.replication.factor=1",
    "min.insync.replicas=1",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    // A consumer group's first member is not kept waiting for others (3 s by default).
    "group.initial.rebalance.delay.ms=0",
    "log.segment.bytes=16777216",
    "num.network.threads=2",
    "num.io.threads=2",
  ];
  if (sasl && clusterPorts.sasl) {
    listeners.push(`SASL_PLAINTEXT://127.0.0.1:${clusterPorts.sasl}`);
    advertised.push(`SASL_PLAINTEXT://127.0.0.1:${clusterPorts.sasl}`);
    protocols.push("SASL_PLAINTEXT:SASL_PLAINTEXT");
    lines.push(
      "sasl.enabled.mechanisms=PLAIN",
      // PlainLoginModule on a broker: every user_<name> option is an account it accepts.
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=${prop(jaas({ [`user_${sasl.username}`]: sasl.password }))}`,
    );
  }
  lines.push(
    `listeners=${listeners.join(",")}`,
    `advertised.listeners=${advertised.join(",")}`,
    `listener.security.protocol.map=${protocols.join(",")}`,
  );
  return `${lines.join("\n")}\n`;
}

/** Runs a Kafka command-line tool to its end; rejects with its output unless it exits 0. */
function runTool(
  args: string[],
  opts: { timeoutMs: number; stdout?: (d: Buffer) => void },
): Promise<{ stderr: string }> {
  return new Promise((resolve, reject) => {
    let stderr = "";
    const child = spawn(java(), args, {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group, so the exit hook can kill it with the brokers.
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) running.set(pid, undefined);
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      if (pid !== undefined) void stopPids([pid], 0);
    }, opts.timeoutMs);
    child.stdout.on("data", opts.stdout ?? (() => {}));
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-16_000);
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (pid !== undefined) running.delete(pid);
      if (code === 0) resolve({ stderr });
      else reject(new Error(`${args.at(-1) ?? "kafka tool"} exited (${code ?? signal}); output:\n${stderr}`));
    });
  });
}

interface BrokerMetadata {
  clusterId: string | null;
  brokers: { id: number; host: string; port: number }[];
}

/**
 * One Metadata request (v4: the oldest Kafka 4 still answers, and without tagged fields) over a
 * raw socket: no client library between the test and the question whether the broker serves.
 */
function metadata(port: number, timeoutMs: number): Promise<BrokerMetadata> {
  const clientId = Buffer.from("scaivault-test-probe");
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = body.writeInt16BE(3, 0); // api key: Metadata
  o = body.writeInt16BE(4, o); // api version
  o = body.writeInt32BE(1, o); // correlation id
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(-1, o); // topics: null, all of them
  body.writeInt8(0, o); // allow_auto_topic_creation: false
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no Metadata answer within ${timeoutMs} ms`)),
    );
    let got = Buffer.alloc(0);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("connection closed before a whole Metadata answer")));
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 4 || got.length < 4 + got.readInt32BE(0)) return;
      socket.destroy();
      try {
        let p = 4 + 4 + 4; // size, correlation id, throttle_time_ms
        const str = () => {
          const n = got.readInt16BE(p);
          p += 2;
          if (n < 0) return null;
          const s = got.toString("utf8", p, p + n);
          p += n;
          return s;
        };
        const brokers: BrokerMetadata["brokers"] = [];
        const count = got.readInt32BE(p);
        p += 4;
        for (let i = 0; i < count; i++) {
          const id = got.readInt32BE(p);
          p += 4;
          const host = str() ?? "";
          const brokerPort = got.readInt32BE(p);
          p += 4;
          str(); // rack
          brokers.push({ id, host, port: brokerPort });
        }
        resolve({ clusterId: str(), brokers });
      } catch (err) {
        reject(err);
      }
    });
    socket.write(Buffer.concat([size, body]));
  });
}

class EarlyExit extends Error {}

async function startOnce(opts: KafkaOptions, libs: string, began: number): Promise<KafkaBroker> {
  const ports: Ports = { broker: await freePort(), controller: await freePort() };
  if (opts.sasl) ports.sasl = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), "scaivault-kafka-"));
  const config = path.join(dir, "server.properties");
  await writeFile(config, serverProperties(dir, ports, opts.sasl));
  const clusterId = kafkaUuid();
  try {
    // --standalone: this node is the whole controller quorum (KIP-853's dynamic quorum of one).
    await runTool(
      [
        ...jvmArgs(libs, "WARN", "256m"),
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        clusterId,
        "--config",
        config,
        "--standalone",
      ],
      { timeoutMs: 60_000 },
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let out = "";
  let started = false;
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
    started ||= out.includes("Kafka Server started");
  };
  const child: ChildProcess = spawn(
    java(),
    [...jvmArgs(libs, "INFO", "512m"), `-Djava.io.tmpdir=${dir}`, "kafka.Kafka", config],
    {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? tmpdir() },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: stop() signals the group, so nothing the broker starts outlives it.
      detached: true,
    },
  );
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("close", () => resolve());
  });
  // A forgotten stop() must not keep the test runner alive; the exit hook above kills the broker.
  child.unref();
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  const pid = child.pid;
  if (pid === undefined) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`could not start java: ${await spawnError}`);
  }
  running.set(pid, dir);

  let stopping: Promise<void> | undefined;
  // Idempotent: a second call waits for the first rather than signalling a pid that may be reused.
  const stop = () => {
    stopping ??= (async () => {
      // The grace lets a clean shutdown finish (≈ 1 s); the data is thrown away either way.
      await stopPids([pid], 10_000);
      await Promise.race([exited, sleep(5_000)]);
      running.delete(pid);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const bootstrap = `127.0.0.1:${ports.broker}`;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last = "";
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new EarlyExit(
          `kafka exited (${child.exitCode ?? child.signalCode}) before serving on ${bootstrap}; output:\n${out}`,
        );
      }
      if (!started) {
        last = `no "Kafka Server started" in its output yet`;
        await sleep(50);
        continue;
      }
      try {
        // Ours, not another server that took the port meanwhile: the cluster id is the one we formatted.
        const md = await metadata(ports.broker, 2_000);
        const self = md.brokers.find((b) => b.id === NODE_ID);
        if (md.clusterId === clusterId && self?.host === "127.0.0.1" && self.port === ports.broker) {
          const secs = ((performance.now() - began) / 1000).toFixed(2);
          if (process.env.KAFKA_VERBOSE) console.log(`kafka on ${bootstrap} (pid ${pid}) in ${secs}s`);
          return {
            bootstrap,
            ...(ports.sasl ? { saslBootstrap: `127.0.0.1:${ports.sasl}` } : {}),
            clusterId,
            pid,
            output: () => out,
            stop,
          };
        }
        last = `Metadata answered ${JSON.stringify(md)}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(`kafka did not serve on ${bootstrap} within ${timeoutMs} ms (${last}); output:\n${out}`);
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts a broker on free ports; if it dies before serving (say, a port was taken meanwhile), tries others. */
export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaBroker> {
  if (opts.sasl) checkSasl(opts.sasl);
  const libs = kafkaLibs();
  const began = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, libs, began);
    } catch (err) {
      if (!(err instanceof EarlyExit) || attempt >= 3) throw err;
    }
  }
}

// Separators no JSON text holds unescaped, so records split unambiguously.
const RECORD_SEP = "\u001e";
const FIELD_SEP = "\u001f";
const HEADER_SEP = "\u001d";

/**
 * Every record of `topic` from the beginning, read by Kafka's console consumer (a consumer group of
 * its own), until `maxMessages` arrived or none came for `timeoutMs`. Keys, values and headers are
 * read as UTF-8 text. With `sasl`, `bootstrap` is a SASL_PLAINTEXT listener.
 */
export async function consumeAll(
  bootstrap: string,
  topic: string,
  opts: { maxMessages: number; timeoutMs?: number; sasl?: SaslPlain },
): Promise<ConsumedRecord[]> {
  const libs = kafkaLibs();
  const idleMs = opts.timeoutMs ?? 10_000;
  const chunks: Buffer[] = [];
  const formatter = [
    "print.partition=true",
    "print.offset=true",
    "print.headers=true",
    "print.key=true",
    `key.separator=${FIELD_SEP}`,
    `line.separator=${RECORD_SEP}`,
    `headers.separator=${HEADER_SEP}`,
  ];
  const client = opts.sasl
    ? [
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=PLAIN",
        `sasl.jaas.config=${jaas({ username: opts.sasl.username, password: opts.sasl.password })}`,
      ]
    : [];
  await runTool(
    [
      ...jvmArgs(libs, "WARN", "256m"),
      "org.apache.kafka.tools.consumer.ConsoleConsumer",
      "--bootstrap-server",
      bootstrap,
      "--topic",
      topic,
      "--from-beginning",
      "--max-messages",
      String(opts.maxMessages),
      "--timeout-ms",
      String(idleMs),
      ...formatter.flatMap((p) => ["--formatter-property", p]),
      ...client.flatMap((p) => ["--command-property", p]),
    ],
    // Beyond the idle time: the JVM's start, joining the group, the reads themselves.
    { timeoutMs: idleMs + 60_000, stdout: (d) => chunks.push(d) },
  );
  const text = Buffer.concat(chunks).toString("utf8");
  return text
    .split(RECORD_SEP)
    .filter((r) => r !== "")
    .map((r) => {
      const [partition = "", offset = "", headers = "", key = "", ...value] = r.split(FIELD_SEP);
      const parsed: Record<string, string> = {};
      if (headers !== "NO_HEADERS") {
        for (const h of headers.split(HEADER_SEP)) {
          const colon = h.indexOf(":");
          parsed[h.slice(0, colon)] = h.slice(colon + 1);
        }
      }
      return {
        partition: Number(partition.replace(/^Partition:/, "")),
        offset: Number(offset.replace(/^Offset:/, "")),
        key,
        value: value.join(FIELD_SEP),
        headers: parsed,
      };
    });
}
