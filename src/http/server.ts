/**
 * @module http/server
 * The HTTP server around the app. Node's own HTTP parser refuses some requests before the app ever
 * sees them — a request line or headers beyond `MAX_HEADER_BYTES`, bytes that are not HTTP — and by
 * default answers a bare 400/431 or resets the connection. Here each gets a problem+json answer
 * (414 for an oversized request line, 431 for oversized headers, 400 otherwise), like everything else.
 *
 * Slow and idle clients cannot hold connections: headers must arrive within `headersTimeoutMs` and
 * the whole request (its body too) within `requestTimeoutMs`, else 408; an idle keep-alive
 * connection closes after `keepAliveTimeoutMs`; one client address may hold `maxPerAddress`
 * connections and the server `maxConnections` — past either, the new connection gets a 429 / 503
 * problem and is closed. The live tail sends no body and its response is not covered by these
 * timeouts (it has its own limits and heartbeat).
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { PROBLEM_CONTENT_TYPE, problem } from "./problem.ts";

/** Request line plus headers. Larger requests are answered 414/431 by the parser. */
const MAX_HEADER_BYTES = 16 * 1024;
/** The longest request target (path and query) the app takes (see http/limits). */
export const MAX_URL_BYTES = 8 * 1024;

export interface ConnectionSettings {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxPerAddress: number;
}

export const DEFAULT_CONNECTIONS: ConnectionSettings = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 4096,
  maxPerAddress: 256,
};

/** How often Node checks the header and request timeouts (its default, 30 s, would let them run late). */
const TIMEOUT_CHECK_MS = 1_000;

/** How long a refused request's remaining bytes are read and dropped before the socket is closed. */
const DRAIN_MS = 5_000;

/** A problem+json response written straight to the socket, then the connection closed. */
function rawProblem(status: keyof typeof REASONS, detail: string, extra = ""): string {
  const body = JSON.stringify(problem(status, detail));
  return (
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}

const REASONS = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/** What the parser's error means for the client. */
function clientErrorResponse(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): string {
  if (err.code === "HPE_HEADER_OVERFLOW") {
    const raw = err.rawPacket?.toString("latin1") ?? "";
    const lineEnd = raw.indexOf("\r\n");
    if (lineEnd === -1 || lineEnd > MAX_URL_BYTES)
      return rawProblem(414, `the request target exceeds ${MAX_URL_BYTES} bytes`);
    return rawProblem(431, `the request line and headers exceed ${MAX_HEADER_BYTES} bytes`);
  }
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT")
    return rawProblem(408, "the request did not arrive in time; send it again, faster");
  return rawProblem(400, "the request is not valid HTTP/1.1");
}

export function startServer(
  fetch: (req: Request) => Response | Promise<Response>,
  opts: { port: number; hostname: string; connections?: ConnectionSettings },
  onListening?: (info: { address: string; port: number }) => void,
): ServerType {
  const limits = opts.connections ?? DEFAULT_CONNECTIONS;
  const server = serve(
    {
      fetch,
      port: opts.port,
      hostname: opts.hostname,
      serverOptions: {
        maxHeaderSize: MAX_HEADER_BYTES,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      },
    },
    onListening,
  ) as Server;
  capConnections(server, limits);
  const answered = new WeakSet<Socket>();
  server.on("clientError", (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    // The parser reports again for each later chunk of a refused request: answered once is enough.
    if (answered.has(socket)) return;
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    socket.end(clientErrorResponse(err));
    // Read and drop what the client is still sending (the rest of a 1 MB URL): closing with unread
    // data would reset the connection before the client reads the answer. Bounded in time.
    socket.on("data", () => {});
    socket.resume();
    const cut = setTimeout(() => socket.destroy(), DRAIN_MS);
    cut.unref();
    socket.once("close", () => clearTimeout(cut));
  });
  return server;
}

/** Refuses a connection beyond the caps with a problem, before reading anything from it. */
function capConnections(server: Server, limits: ConnectionSettings): void {
  const perAddress = new Map<string, number>();
  let total = 0;
  server.prependListener("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const mine = perAddress.get(address) ?? 0;
    const refusal =
      total >= limits.maxConnections
        ? rawProblem(
            503,
            "the service has as many connections as it takes; retry later",
            "Retry-After: 1\r\n",
          )
        : mine >= limits.maxPerAddress
          ? rawProblem(
              429,
              `this address holds ${limits.maxPerAddress} connections already; reuse them`,
              "Retry-After: 1\r\n",
            )
          : undefined;
    if (refusal) {
      socket.end(refusal);
      socket.destroySoon();
      return;
    }
    total++;
    perAddress.set(address, mine + 1);
    socket.once("close", () => {
      total--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
}
