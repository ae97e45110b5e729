/**
 * @module destinations/receivers/syslog
 * Syslog over TLS (RFC 5425): each event one RFC 5424 message — facility `log audit` (13),
 * severity informational or warning (a failed action), the event's own microsecond timestamp,
 * MSGID = the action, structured data `[audit@32473 id="<event id>" tenant="…"]` so a receiver can
 * drop a re-sent one — framed by octet counting, on one kept TLS connection. Syslog has no
 * acknowledgement: a batch counts as delivered once TLS has handed all of it to the connection,
 * so a receiver that dies holding unprocessed messages loses them (RELP would not; see README).
 */

import { isIP } from "node:net";
import { hostname } from "node:os";
import { connect, type TLSSocket } from "node:tls";
import { z } from "@hono/zod-openapi";
import { HOST } from "../allowlist.ts";
import { DestinationError } from "../errors.ts";
import { answerText, type Outgoing, type ReceiverType } from "../receiver.ts";

/** RFC 5424 `log audit`. */
const FACILITY = 13;
const INFO = 6;
const WARNING = 4;
/** The documentation enterprise number (RFC 5612): the SD-ID is `audit@32473`. */
const SD_ID = "audit@32473";

/** PRINTUSASCII without spaces, 1–n characters (RFC 5424 header fields). */
const headerField = (n: number) =>
  z
    .string()
    .regex(new RegExp(`^[\\x21-\\x7e]{1,${n}}$`), `must be 1–${n} printable ASCII characters without spaces`);

/** The receiver as the allowlist names it. */
const target = (host: string, port: number) => `tls://${host}:${port}`;

const config = z
  .object({
    host: z
      .string()
      .max(253)
      .regex(new RegExp(`^${HOST}$`), "must be a host name or an IPv4 address")
      .openapi({ description: "The receiver; `tls://<host>:<port>` must be in EXPORT_ENDPOINT_ALLOWLIST." }),
    port: z.number().int().min(1).max(65_535).default(6514),
    ca_pem: z
      .string()
      .max(64 * 1024)
      .regex(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, "must be PEM certificates")
      .optional()
      .openapi({
        description: "Certificates to trust for the receiver (a private CA); default: the system's.",
      }),
    server_name: z
      .string()
      .max(253)
      .regex(/^[A-Za-z0-9.-]+$/)
      .optional()
      .openapi({ description: "The name the receiver's certificate must hold (default: host)." }),
    app_name: headerField(48).default("scaivault-audit"),
    hostname: headerField(255)
      .optional()
      .openapi({ description: "HOSTNAME of every message (default: this replica's)." }),
  })
  .strict()
  .openapi("SyslogConfig");
type Config = z.infer<typeof config>;

/** Mutual TLS, when the receiver asks for it: a client certificate and its key (PEM). */
const credentials = z.object({
  client_cert: z.string().min(1).optional(),
  client_key: z.string().min(1).optional(),
});

/** An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
const sdValue = (v: string) => v.replace(/["\\\]]/g, (c) => `\\${c}`);

/** One RFC 5424 message (without framing). */
function syslogMessage(
  e: Outgoing,
  tenant: string,
  c: Pick<Config, "app_name" | "hostname">,
  host: string,
): string {
  const failed = !e.success;
  const pri = FACILITY * 8 + (failed ? WARNING : INFO);
  const msgid = /^[\x21-\x7e]{1,32}$/.test(e.action) ? e.action : "-";
  const sd = `[${SD_ID} id="${sdValue(e.id)}" tenant="${sdValue(tenant)}"]`;
  const msg = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
  // The BOM marks MSG as UTF-8 (RFC 5424 §6.4).
  return `<${pri}>1 ${e.time} ${c.hostname ?? host} ${c.app_name} ${process.pid} ${msgid} ${sd} \uFEFF${msg}`;
}

/** Octet-counting framing (RFC 5425 §4.3): the message's length in bytes, a space, the message. */
const frame = (message: string) => `${Buffer.byteLength(message)} ${message}`;

export const syslog = {
  type: "syslog",
  config,
  formats: ["json", "cef", "ocsf"],
  credentials,
  expected: "nothing, or client_cert and client_key (PEM) for mutual TLS",
  endpoints: (c) => ({ host: target(c.host, c.port) }),
  schemes: ["tls:"],
  open(c, secret, ctx) {
    const host = (hostname().match(/^[\x21-\x7e]{1,255}$/) ?? ["-"])[0];
    let socket: TLSSocket | undefined;
    const failure = (what: string, err?: Error) =>
      new DestinationError(
        "destination_error",
        `the syslog receiver ${what}${err ? ` (${answerText(err.message, 160)})` : ""}`,
      );
    const open = () =>
      new Promise<TLSSocket>((resolve, reject) => {
        const s = connect({
          host: c.host,
          port: c.port,
          ...(isIP(c.host) === 0 || c.server_name ? { servername: c.server_name ?? c.host } : {}),
          ...(c.ca_pem ? { ca: c.ca_pem } : {}),
          ...(secret.client_cert && secret.client_key
            ? { cert: secret.client_cert, key: secret.client_key }
            : {}),
          minVersion: "TLSv1.2",
        });
        const timer = setTimeout(() => {
          s.destroy();
          reject(failure(`did not complete a TLS handshake within ${ctx.timeoutMs} ms`));
        }, ctx.timeoutMs);
        s.once("secureConnect", () => {
          clearTimeout(timer);
          // Whatever the receiver sends, or a later error, ends this connection; the next batch opens another.
          s.on("error", () => s.destroy());
          s.on("data", () => {});
          resolve(s);
        });
        s.once("error", (err) => {
          clearTimeout(timer);
          reject(failure("cannot be reached over TLS", err));
        });
      });
    return {
      async send(batch: Outgoing[], signal: AbortSignal) {
        if (batch.length === 0) return;
        if (!socket || socket.destroyed || !socket.writable) socket = await open();
        const s = socket;
        const data = batch.map((e) => frame(syslogMessage(e, ctx.tenant, c, host))).join("");
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            s.destroy();
            reject(failure(`did not take the batch within ${ctx.timeoutMs} ms`));
          }, ctx.timeoutMs);
          const abort = () => {
            s.destroy();
            reject(failure("write was abandoned (the service is stopping)"));
          };
          signal.addEventListener("abort", abort, { once: true });
          s.write(data, (err) => {
            clearTimeout(timer);
            signal.removeEventListener("abort", abort);
            if (err) {
              s.destroy();
              reject(failure("connection failed while sending", err));
            } else resolve();
          });
        });
      },
      async close() {
        socket?.end();
        socket = undefined;
      },
    };
  },
} as const satisfies ReceiverType<"syslog", Config, z.infer<typeof credentials>>;
