/**
 * Tools the tests run that are not npm packages: found by env var, else in `<tool cache>/bin`
 * (where .ci/run installs them; the tool cache is OPENSEARCH_CACHE_DIR, else defaultCacheDir), else
 * on PATH. A missing one is an error that names the .ci/run step installing it. Kafka is jars, not an
 * executable: see kafkaLibs.
 */
import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir } from "../../dev/config.ts";

export const MOTO_VERSION = "5.2.1";
export const FAKE_GCS_SERVER_VERSION = "v1.56.1";

export class MissingToolError extends Error {
  override name = "MissingToolError";
}

/** The folder .ci/run installs the emulators into (its `bin/` holds them). */
export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPENSEARCH_CACHE_DIR || defaultCacheDir(env);
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ToolSpec {
  name: string;
  envVar: string;
  /** Shell commands that install it into `<cache>/bin`, as .ci/run does. */
  install: (cache: string) => string;
  step: string;
}

export const MOTO: ToolSpec = {
  name: "moto_server",
  envVar: "MOTO_SERVER",
  step: `"installing moto[server]==${MOTO_VERSION}"`,
  install: (c) =>
    `python3 -m venv ${c}/moto-venv && ${c}/moto-venv/bin/python -m pip install 'moto[server]==${MOTO_VERSION}' && ` +
    `mkdir -p ${c}/bin && ln -sfn ${c}/moto-venv/bin/moto_server ${c}/bin/moto_server`,
};

export const FAKE_GCS: ToolSpec = {
  name: "fake-gcs-server",
  envVar: "FAKE_GCS_SERVER",
  step: `"building fake-gcs-server ${FAKE_GCS_SERVER_VERSION}"`,
  install: (c) =>
    `GOBIN=${c}/bin CGO_ENABLED=0 go install github.com/fsouza/fake-gcs-server@${FAKE_GCS_SERVER_VERSION}`,
};

/** Env var, else `<tool cache>/bin/<name>`, else PATH; throws a MissingToolError naming the install step. */
export function locateTool(tool: ToolSpec, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[tool.envVar];
  if (fromEnv) {
    if (executable(fromEnv)) return fromEnv;
    throw new MissingToolError(`${tool.envVar}=${fromEnv} is not an executable file`);
  }
  const cache = toolCacheDir(env);
  const cached = path.join(cache, "bin", tool.name);
  if (executable(cached)) return cached;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, tool.name))) return path.join(dir, tool.name);
  }
  throw new MissingToolError(
    `${tool.name} not found: ${tool.envVar} is unset, ${cached} does not exist and it is not on PATH. ` +
      `The step ${tool.step} of .ci/run installs it (it runs before npm ci); to do the same by hand:\n  ${tool.install(cache)}`,
  );
}

export const SCHEMATHESIS_VERSION = "4.32.5";

export const SCHEMATHESIS: ToolSpec = {
  name: "st",
  envVar: "SCHEMATHESIS",
  step: `"installing schemathesis==${SCHEMATHESIS_VERSION}"`,
  install: (c) =>
    `python3 -m venv ${c}/schemathesis-venv && ${c}/schemathesis-venv/bin/python -m pip install 'schemathesis==${SCHEMATHESIS_VERSION}' && ` +
    `mkdir -p ${c}/bin && ln -sfn ${c}/schemathesis-venv/bin/st ${c}/bin/st`,
};

/**
 * rsyslogd, the syslog destination's receiver in tests (test/support/rsyslog.ts): a Debian package,
 * not a cached build. Found like the others; RSYSLOGD may name another binary.
 */
export const RSYSLOGD: ToolSpec = {
  name: "rsyslogd",
  envVar: "RSYSLOGD",
  step: `"installing rsyslog and rsyslog-gnutls"`,
  install: () => "apt-get install -y --no-install-recommends rsyslog rsyslog-gnutls (as root; Debian/Ubuntu)",
};

/** Kafka for the delivery tests; test/support/kafka/pom.xml's kafka.version is only its default. */
export const KAFKA_VERSION = "4.4.0";

/** The POM whose dependencies are the broker's jars. */
export const KAFKA_POM = fileURLToPath(new URL("kafka/pom.xml", import.meta.url));

export const KAFKA_STEP = `"gathering the Kafka ${KAFKA_VERSION} jars"`;

/**
 * The folder of Kafka's jars (broker, storage tool, console consumer, log4j): KAFKA_LIBS, else
 * `<tool cache>/kafka-<version>/libs`, where .ci/run gathers them from Maven Central (no Kafka
 * distribution can be downloaded here). Throws a MissingToolError naming that step.
 */
export function kafkaLibs(env: NodeJS.ProcessEnv = process.env): string {
  const check = (dir: string) => existsSync(path.join(dir, `kafka_2.13-${KAFKA_VERSION}.jar`));
  if (env.KAFKA_LIBS) {
    if (check(env.KAFKA_LIBS)) return env.KAFKA_LIBS;
    throw new MissingToolError(`KAFKA_LIBS=${env.KAFKA_LIBS} holds no kafka_2.13-${KAFKA_VERSION}.jar`);
  }
  const libs = path.join(toolCacheDir(env), `kafka-${KAFKA_VERSION}`, "libs");
  if (check(libs)) return libs;
  throw new MissingToolError(
    `Kafka ${KAFKA_VERSION} not found: KAFKA_LIBS is unset and ${libs} holds no kafka_2.13-${KAFKA_VERSION}.jar. ` +
      `The step ${KAFKA_STEP} of .ci/run gathers the jars (it runs before npm ci); to do the same by hand:\n  ` +
      `mvn -q -f ${KAFKA_POM} dependency:copy-dependencies -Dkafka.version=${KAFKA_VERSION} -DoutputDirectory=${libs}`,
  );
}

/**
 * The splunk_hec destination's receiver (test/support/hec-receiver.ts): the Go program in
 * test/support/hec-receiver, built by .ci/run with the digest of its source, which the tests check.
 */
export const HEC_RECEIVER: ToolSpec = {
  name: "hec-receiver",
  envVar: "HEC_RECEIVER",
  step: `"building hec-receiver <digest>"`,
  install: (c) =>
    `cd test/support/hec-receiver && d=$(cat main.go go.mod go.sum | sha256sum | cut -c1-12) && ` +
    `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.source=$d" -o ${c}/bin/hec-receiver .`,
};
