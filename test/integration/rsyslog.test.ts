/**
 * The syslog destination's receiver (test/support/rsyslog.ts): a real rsyslogd takes RFC 5424
 * messages over TLS with octet-counting framing (RFC 5425), keeps them whole and in order, large ones
 * included, takes mutual TLS, and stops without leftovers. A failure here most likely means the
 * rsyslog step of .ci/run did not run.
 *
 * This file needs no OpenSearch; to skip the one the integration project starts, name any URL:
 *   OPENSEARCH_URL=http://127.0.0.1:9 npx vitest run --project integration test/integration/rsyslog.test.ts
 */
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../support/process.ts";
import { MAX_MESSAGE_SIZE, type SyslogServer, startRsyslog } from "../support/rsyslog.ts";

interface SdElement {
  id: string;
  params: [string, string][];
}

interface Syslog {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: SdElement[];
  msg: string;
}

// RFC 5424 6.3.3: '"', '\' and ']' in a PARAM-VALUE are escaped with '\'.
const escapeParam = (v: string) => v.replace(/["\\\]]/g, (c) => `\\${c}`);

function format(m: Syslog): string {
  const sd = m.sd.length
    ? m.sd.map((e) => `[${e.id}${e.params.map(([k, v]) => ` ${k}="${escapeParam(v)}"`).join("")}]`).join("")
    : "-";
  return `<${m.pri}>${m.version} ${m.timestamp} ${m.hostname} ${m.appName} ${m.procId} ${m.msgId} ${sd} ${m.msg}`;
}

/** RFC 5424 back into its fields: the header, each SD element with its unescaped params, and MSG. */
function parse(line: string): Syslog {
  const head = /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(line);
  if (!head) throw new Error(`not RFC 5424: ${line.slice(0, 120)}`);
  let i = head[0].length;
  const at = (k: number) => {
    if (k >= line.length) throw new Error(`structured data runs past the end: ${line.slice(0, 200)}`);
    return line.charAt(k);
  };
  const sd: SdElement[] = [];
  if (at(i) === "-") i++;
  else {
    while (at(i) === "[") {
      const id = /^[^ \]="]+/.exec(line.slice(i + 1))?.[0] ?? "";
      i += 1 + id.length;
      const params: [string, string][] = [];
      while (at(i) === " ") {
        const eq = line.indexOf('="', i);
        const name = line.slice(i + 1, eq);
        i = eq + 2;
        let value = "";
        while (at(i) !== '"') {
          if (at(i) === "\\" && /["\\\]]/.test(at(i + 1))) i++;
          value += at(i);
          i++;
        }
        i++;
        params.push([name, value]);
      }
      if (at(i) !== "]") throw new Error(`SD element not closed at ${i}: ${line.slice(0, 200)}`);
      i++;
      sd.push({ id, params });
    }
  }
  if (at(i) !== " ") throw new Error(`no space before MSG at ${i}: ${line.slice(0, 200)}`);
  const [, pri, version, timestamp, hostname, appName, procId, msgId] = head as unknown as string[];
  return {
    pri: Number(pri),
    version: Number(version),
    timestamp: timestamp as string,
    hostname: hostname as string,
    appName: appName as string,
    procId: procId as string,
    msgId: msgId as string,
    sd,
    msg: line.slice(i + 1),
  };
}

/** RFC 5425 4.3: MSG-LEN (octets, in decimal) SP SYSLOG-MSG. */
function frame(message: string): Buffer {
  const bytes = Buffer.from(message, "utf8");
  return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
}

/** One TLS connection trusting only the receiver's CA: every message framed, then a clean close. */
async function send(
  server: SyslogServer,
  messages: string[],
  client?: { cert: string; key: string },
): Promise<void> {
  const socket = connect({ host: server.host, port: server.port, ca: server.caPem, ...client });
  await once(socket, "secureConnect");
  for (const m of messages) socket.write(frame(m));
  socket.end();
  await once(socket, "close");
}

// Facility 13 (log audit), severity 6 (informational).
const PRI = 13 * 8 + 6;

function auditMessage(i: number, context: Record<string, unknown> = {}): Syslog {
  const second = new Date(Date.UTC(2025, 5, 1, 12, 0, i)).toISOString().slice(0, 19);
  const event = {
    event_id: `01JTEST${String(i).padStart(19, "0")}`,
    tenant_id: "t-syslog",
    action: "secret.read",
    outcome: i % 7 === 0 ? "denied" : "allowed",
    actor: { id: `user-${i}`, ip: "10.0.0.7" },
    resource: `kv/app-${i}/db-password`,
    note: 'a "quoted" note with ] and \\ and ünïcødé ✓',
    context,
  };
  return {
    pri: PRI,
    version: 1,
    timestamp: `${second}.${String(100_000 + i * 1_001).padStart(6, "0")}Z`,
    hostname: "audit-1.scaivault.test",
    appName: "scaivault-audit",
    procId: String(4_000 + i),
    msgId: "audit.event",
    sd: [
      {
        id: "id@32473",
        params: [
          ["event_id", event.event_id],
          ["tenant", event.tenant_id],
          ["note", 'closes ] and quotes " and a backslash \\'],
        ],
      },
      { id: "origin", params: [["ip", "10.0.0.7"]] },
    ],
    msg: JSON.stringify(event),
  };
}

describe("rsyslog over TLS (RFC 5425)", () => {
  let server: SyslogServer;

  beforeAll(async () => {
    server = await startRsyslog();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("takes 50 octet-counted RFC 5424 messages on one connection and keeps them whole and in order", async () => {
    const sent = Array.from({ length: 50 }, (_, i) => auditMessage(i));
    await send(server, sent.map(format));
    const got = await server.waitForMessages(sent.length);
    // Raw, byte for byte: no rsyslog messages of its own, no reformatting.
    expect(got).toEqual(sent.map(format));
    const parsed = got.map(parse);
    expect(parsed).toEqual(sent);
    expect(parsed.map((m) => JSON.parse(m.msg).event_id)).toEqual(
      sent.map((m) => JSON.parse(m.msg).event_id),
    );
    expect(parsed[3]?.sd[0]?.params[2]?.[1]).toBe('closes ] and quotes " and a backslash \\');
  });

  it("a message with about 20 KB of JSON arrives whole (rsyslog's default limit is 8 KB)", async () => {
    const before = (await server.messages()).length;
    const context = {
      items: Array.from({ length: 400 }, (_, i) => ({ key: `field-${i}`, value: "v".repeat(30) })),
    };
    const big = auditMessage(50, context);
    const text = format(big);
    expect(Buffer.byteLength(text)).toBeGreaterThan(20_000);
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_MESSAGE_SIZE);
    await send(server, [text]);
    const got = (await server.waitForMessages(before + 1)).slice(before);
    expect(got).toEqual([text]);
    expect(JSON.parse(parse(got[0] as string).msg).context).toEqual(context);
  });

  it("at the edges: an LF inside a message is escaped as #012; past the limit a message is cut and the rest dropped", async () => {
    const before = (await server.messages()).length;
    const withLf = format({ ...auditMessage(51), msg: "two\nlines" });
    const tooBig = format(auditMessage(52, { blob: "x".repeat(MAX_MESSAGE_SIZE) }));
    const after = format(auditMessage(53));
    await send(server, [withLf, tooBig, after]);
    const got = (await server.waitForMessages(before + 3)).slice(before);
    expect(got).toHaveLength(3);
    expect(got[0]).toBe(withLf.replace("\n", "#012"));
    expect(got[1]?.length).toBeLessThanOrEqual(MAX_MESSAGE_SIZE);
    expect(got[1]?.length).toBeGreaterThan(MAX_MESSAGE_SIZE - 100);
    expect(tooBig.startsWith(got[1] as string)).toBe(true);
    // The frame after the cut one is read from its own octet count, intact.
    expect(got[2]).toBe(after);
    expect(server.output()).toContain("received oversize message");
  });

  it("with mutual TLS, takes a client certificate from its CA and refuses a client without one", async () => {
    const mtls = await startRsyslog({ mutualTls: true });
    try {
      const { clientCert, clientKey } = mtls.certificates;
      if (!clientCert || !clientKey) throw new Error("no client certificate was made");
      const refused = connect({ host: mtls.host, port: mtls.port, ca: mtls.caPem });
      refused.on("error", () => {
        /* refused: what this checks */
      });
      refused.on("secureConnect", () => refused.end(frame(format(auditMessage(60)))));
      // Not once(): that rejects on the error event, which is the point here.
      await new Promise((resolve) => refused.once("close", resolve));
      const accepted = format(auditMessage(61));
      await send(mtls, [accepted], {
        cert: await readFile(clientCert, "utf8"),
        key: await readFile(clientKey, "utf8"),
      });
      expect(await mtls.waitForMessages(1)).toEqual([accepted]);
      expect(mtls.output()).toContain("peer did not provide a certificate");
    } finally {
      await mtls.stop();
    }
  });

  it("stop() ends rsyslogd and its process group, removes its folder, and keeps what it received", async () => {
    const { pid, outputFile } = server;
    const received = await server.messages();
    await server.stop();
    expect(alive(pid)).toBe(false);
    expect(() => process.kill(-pid, 0)).toThrow();
    expect(existsSync(path.dirname(outputFile))).toBe(false);
    expect(await server.messages()).toEqual(received);
    await server.stop();
  });
});
