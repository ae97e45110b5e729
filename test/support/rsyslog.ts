/**
 * A real syslog receiver on loopback for the syslog destination's tests: a private rsyslogd taking
 * RFC 5424 messages over TLS (RFC 5425: imtcp with the GnuTLS stream driver, octet-counting framing)
 * and writing each message it receives, raw, as one line of a file the tests read back. Its
 * certificates come from a throwaway CA made with openssl.
 *
 * rsyslogd and its GnuTLS driver are the Debian packages rsyslog and rsyslog-gnutls, which .ci/run
 * installs. The private instance has its own config, pid file and work folder in a temporary folder;
 * it loads no imuxsock (so leaves /dev/log alone) and keeps its own messages to itself.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "node:tls";
import { promisify } from "node:util";
import { freePort, stopPids } from "../../dev/local-cluster.ts";
import { locateTool, MissingToolError, RSYSLOGD } from "./tools.ts";

const run = promisify(execFile);

export interface Certificates {
  caCert: string;
  caKey: string;
  /** For 127.0.0.1 and localhost (SAN IP:127.0.0.1, DNS:localhost). */
  serverCert: string;
  serverKey: string;
  /** CN and SAN DNS `scaivault-audit`, for mutual TLS; only when asked for. */
  clientCert?: string;
  clientKey?: string;
  /** The CA certificate's PEM text, what a client trusts. */
  caPem: string;
}

/** The client certificate's name, which a mutual-TLS receiver permits. */
export const CLIENT_NAME = "scaivault-audit";

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run("openssl", args, { cwd: dir });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new MissingToolError(
        'openssl not found: the step "installing openssl" of .ci/run installs it (apt-get install openssl)',
      );
    throw err;
  }
}

/** A key `<name>.key` and a certificate `<name>.pem` for `subject`, signed by the CA in `dir`. */
async function issue(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await writeFile(path.join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    // A random serial rather than a ca.srl file next to the CA.
    "-set_serial",
    `0x1${randomBytes(15).toString("hex")}`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  ]);
}

/**
 * With openssl in `dir`: a throwaway CA, a server certificate it signed for 127.0.0.1 / localhost and,
 * if asked, a client certificate for `scaivault-audit`. P-256 keys: quick to make, and both Node and
 * GnuTLS take them. Valid for two days.
 */
export async function makeCertificates(dir: string, opts: { client?: boolean } = {}): Promise<Certificates> {
  await mkdir(dir, { recursive: true });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=ScaiVault test syslog CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await issue(
    dir,
    "server",
    "/CN=localhost",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" +
      "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  const at = (f: string) => path.join(dir, f);
  const certs: Certificates = {
    caCert: at("ca.pem"),
    caKey: at("ca.key"),
    serverCert: at("server.pem"),
    serverKey: at("server.key"),
    caPem: await readFile(at("ca.pem"), "utf8"),
  };
  if (opts.client) {
    await issue(
      dir,
      "client",
      `/CN=${CLIENT_NAME}`,
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n" +
        `subjectAltName=DNS:${CLIENT_NAME}\n`,
    );
    certs.clientCert = at("client.pem");
    certs.clientKey = at("client.key");
  }
  return certs;
}

export interface SyslogServer {
  host: "127.0.0.1";
  port: number;
  /** The CA that signed the server's certificate: what a client must trust. */
  caPem: string;
  certificates: Certificates;
  /** One line per message received, as rsyslog wrote it (see messages()). */
  outputFile: string;
  pid: number;
  /**
   * Every message received so far, in order: the raw message as sent (without its octet count),
   * except that rsyslog escapes control characters as `#` and three octal digits (an LF in a message
   * reads `#012`) and drops one trailing LF. After stop(), what the file held when rsyslogd exited.
   */
  messages(): Promise<string[]>;
  /** The same messages as rsyslog parsed them: facility, severity, timestamp, hostname, app_name, procid, msgid, structured_data, msg. */
  parsed(): Promise<Record<string, string>[]>;
  /** messages() once it holds at least `count`; rsyslog writes a batch at a time, so wait for them. */
  waitForMessages(count: number, timeoutMs?: number): Promise<string[]>;
  /** rsyslogd's stdout and stderr so far (the last 16 KB): where it reports errors, oversize messages among them. */
  output(): string;
  /** SIGTERM to rsyslogd's process group, SIGKILL after a grace period; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface RsyslogOptions {
  /**
   * Mutual TLS: the receiver asks for a client certificate, which must come from the CA and name
   * `scaivault-audit` (gtls authmode x509/name); the certificates include one.
   */
  mutualTls?: boolean;
  timeoutMs?: number;
}

/**
 * RFC 5425 asks receivers to take messages of 8192 octets, rsyslog's default limit; audit events
 * with a large context are longer. A longer message is cut at this limit, the rest is dropped (not
 * delivered as a further message: discardTruncatedMsg) and rsyslogd says "received oversize message"
 * on stderr. imtcp's frame limit (maxFrameSize, default 200000 octets) is above it; a larger octet
 * count would make it fall back to LF-delimited framing.
 */
export const MAX_MESSAGE_SIZE = 64 * 1024;

/** Whether a folder of rsyslog modules holds lmnsd_gtls.so, the GnuTLS stream driver (rsyslog-gnutls). */
function gtlsDriverPresent(): boolean {
  const roots = ["/usr/lib", "/usr/lib64", "/usr/local/lib"];
  const dirs = roots.flatMap((root) => {
    let subs: string[] = [];
    try {
      subs = readdirSync(root).filter((d) => d.includes("-linux-"));
    } catch {
      /* no such root */
    }
    return [root, ...subs.map((d) => path.join(root, d))].map((d) => path.join(d, "rsyslog"));
  });
  return dirs.some((d) => existsSync(path.join(d, "lmnsd_gtls.so")));
}

function locateRsyslogd(): string {
  // rsyslogd is in /usr/sbin, which a non-root PATH may lack.
  const env = { ...process.env, PATH: [process.env.PATH, "/usr/sbin", "/sbin"].filter(Boolean).join(":") };
  const bin = locateTool(RSYSLOGD, env);
  // A binary named by RSYSLOGD brings its own module folder; a missing driver then shows in its output.
  if (!process.env.RSYSLOGD && !gtlsDriverPresent())
    throw new MissingToolError(
      `${bin} has no GnuTLS stream driver (lmnsd_gtls.so, package rsyslog-gnutls). ` +
        `The step ${RSYSLOGD.step} of .ci/run installs it; to do the same by hand:\n  ${RSYSLOGD.install("")}`,
    );
  return bin;
}

/** What rsyslog itself parsed of each message (its properties, JSON-escaped): the tests' RFC 5424 parser. */
const PARSED = {
  facility: "syslogfacility",
  severity: "syslogseverity",
  timestamp: "timereported:::date-rfc3339",
  hostname: "hostname",
  app_name: "app-name",
  procid: "procid",
  msgid: "msgid",
  structured_data: "structured-data",
  msg: "msg",
};
const PARSED_TEMPLATE = `{${Object.entries(PARSED)
  .map(([k, prop]) => `\\"${k}\\":\\"%${prop.includes(":") ? `${prop},json` : `${prop}:::json`}%\\"`)
  .join(",")}}`;

/**
 * The instance's whole config. Received messages go through a ruleset of their own, so rsyslogd's
 * own messages (start, stop, errors) never reach the output file: those go to rsyslogd.log, kept
 * inside this instance by processInternalMessages (otherwise, built with systemd support, it hands
 * them to the system's log). `%rawmsg%` is the message as received, without the octet count.
 */
function config(p: {
  work: string;
  certs: Certificates;
  port: number;
  outputFile: string;
  parsedFile: string;
  internalLog: string;
  mutualTls: boolean;
}): string {
  const auth = p.mutualTls
    ? `StreamDriver.AuthMode="x509/name" PermittedPeer=["${CLIENT_NAME}"]`
    : `StreamDriver.AuthMode="anon"`;
  return `global(
  workDirectory="${p.work}"
  maxMessageSize="${MAX_MESSAGE_SIZE}"
  processInternalMessages="on"
  defaultNetstreamDriverCAFile="${p.certs.caCert}"
  defaultNetstreamDriverCertFile="${p.certs.serverCert}"
  defaultNetstreamDriverKeyFile="${p.certs.serverKey}"
)
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" ${auth})
template(name="raw" type="string" string="%rawmsg%\\n")
template(name="parsed" type="string" string="${PARSED_TEMPLATE}\\n")
ruleset(name="received") {
  action(type="omfile" file="${p.outputFile}" template="raw")
  action(type="omfile" file="${p.parsedFile}" template="parsed")
}
input(type="imtcp" address="127.0.0.1" port="${p.port}" ruleset="received" discardTruncatedMsg="on")
*.* action(type="omfile" file="${p.internalLog}")
`;
}

// Receivers still running when this process exits (a test that forgot stop(), a crash) are killed.
const running = new Map<number, string>();
process.once("exit", () => {
  for (const [pid, dir] of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

class PortTaken extends Error {}

/** Resolves once a TLS handshake with the server at `port` succeeds, trusting only our CA. */
function handshake(port: number, certs: Certificates, client: { cert: string; key: string } | undefined) {
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca: certs.caPem, ...client });
    socket.setTimeout(2_000, () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("secureConnect", () => {
      socket.end();
      resolve();
    });
    socket.once("error", reject);
  });
}

async function startOnce(
  bin: string,
  dir: string,
  certs: Certificates,
  port: number,
  opts: RsyslogOptions,
): Promise<SyslogServer> {
  const began = performance.now();
  const work = path.join(dir, "work");
  const outputFile = path.join(dir, "received.log");
  const parsedFile = path.join(dir, "parsed.jsonl");
  const internalLog = path.join(dir, "rsyslogd.log");
  const confFile = path.join(dir, "rsyslog.conf");
  const pidFile = path.join(dir, "rsyslogd.pid");
  await mkdir(work, { recursive: true });
  await rm(outputFile, { force: true });
  const mutualTls = opts.mutualTls ?? false;
  await writeFile(confFile, config({ work, certs, port, outputFile, parsedFile, internalLog, mutualTls }));

  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
  };
  // -n: stay in the foreground, as our child; -i: a pid file of its own, not /run/rsyslogd.pid.
  const child: ChildProcess = spawn(bin, ["-n", "-f", confFile, "-i", pidFile], {
    cwd: dir,
    // Nothing of ours (NOTIFY_SOCKET, LISTEN_FDS) that would make it talk to systemd.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stdio: ["ignore", "pipe", "pipe"],
    // Own process group: stop() signals the group.
    detached: true,
  });
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("close", () => resolve());
  });
  // A forgotten stop() must not keep the test runner alive; the exit hook above kills rsyslogd.
  child.unref();
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${bin}: ${await spawnError}`);
  running.set(pid, dir);

  let final: string[] | undefined;
  let finalParsed: string[] | undefined;
  const read = async (file = outputFile) => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const lines = text.split("\n");
    // Only whole lines: the last one is empty, or still being written.
    lines.pop();
    return lines;
  };
  const messages = async () => final ?? (await read());
  const parsed = async () =>
    (finalParsed ?? (await read(parsedFile))).map((l) => JSON.parse(l) as Record<string, string>);

  let stopping: Promise<void> | undefined;
  // Idempotent: a second call waits for the first rather than signalling a pid that may be reused.
  const stop = () => {
    stopping ??= (async () => {
      await stopPids([pid], 5_000);
      await Promise.race([exited, sleep(5_000)]);
      running.delete(pid);
      final = await read();
      finalParsed = await read(parsedFile);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const waitForMessages = async (count: number, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await messages();
      if (got.length >= count) return got;
      if (Date.now() > deadline)
        throw new Error(
          `rsyslog wrote ${got.length} of ${count} messages within ${timeoutMs} ms; its output:\n${out}`,
        );
      await sleep(50);
    }
  };

  const client =
    mutualTls && certs.clientCert && certs.clientKey
      ? { cert: await readFile(certs.clientCert, "utf8"), key: await readFile(certs.clientKey, "utf8") }
      : undefined;
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let last = "";
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `rsyslogd exited (${child.exitCode ?? child.signalCode}) before listening; output:\n${out}`,
        );
      if (/lmnsd_gtls/.test(out) && /could not load|cannot open|not found/i.test(out))
        throw new MissingToolError(
          `rsyslogd could not load its GnuTLS stream driver: the step ${RSYSLOGD.step} of .ci/run installs it; output:\n${out}`,
        );
      // It does not exit when it cannot listen: it says so and runs on without the input.
      if (out.includes("Could not create tcp listener")) throw new PortTaken(out);
      try {
        // Only our certificate passes, so another server that took the port is not mistaken for ours.
        await handshake(port, certs, client);
        const secs = ((performance.now() - began) / 1000).toFixed(2);
        if (process.env.RSYSLOG_VERBOSE)
          console.log(`rsyslogd on 127.0.0.1:${port} (pid ${pid}) in ${secs}s`);
        return {
          host: "127.0.0.1",
          port,
          caPem: certs.caPem,
          certificates: certs,
          outputFile,
          pid,
          messages,
          parsed,
          waitForMessages,
          output: () => out,
          stop,
        };
      } catch (err) {
        last = String(err);
      }
      await sleep(100);
    }
    throw new Error(
      `rsyslogd did not take a TLS connection on 127.0.0.1:${port} within ${opts.timeoutMs ?? 15_000} ms (${last}); output:\n${out}`,
    );
  } catch (err) {
    // Keep the folder for the next attempt: stop() removes it, so stop the process alone here.
    await stopPids([pid], 5_000);
    await Promise.race([exited, sleep(5_000)]);
    running.delete(pid);
    throw err;
  }
}

/**
 * A private rsyslogd on a free loopback port, taking RFC 5424 over TLS with octet-counting framing;
 * tries another port if the one picked was taken meanwhile. stop() removes its folder.
 */
export async function startRsyslog(opts: RsyslogOptions = {}): Promise<SyslogServer> {
  const bin = locateRsyslogd();
  const dir = await mkdtemp(path.join(tmpdir(), "scaivault-rsyslog-"));
  try {
    const certs = await makeCertificates(path.join(dir, "tls"), { client: opts.mutualTls ?? false });
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(bin, dir, certs, await freePort(), opts);
      } catch (err) {
        if (!(err instanceof PortTaken) || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
