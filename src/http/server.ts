/**
 * @module http/server
 * The HTTP server around the app. Node's own HTTP parser refuses some requests before the app ever
 * sees them — a request line or headers beyond `MAX_HEADER_BYTES`, bytes that are not HTTP — and by
 * default answers a bare 400/431 or resets the connection. Here each gets a problem+json answer
 * (414 for an oversized request line, 431 for oversized headers, 400 otherwise), like everything else.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { PROBLEM_CONTENT_TYPE, problem } from "./problem.ts";

/** Request line plus headers. Larger requests are answered 414/431 by the parser. */
const MAX_HEADER_BYTES = 16 * 1024;
/** The longest request target (path and query) the app takes (see http/limits). */
export const MAX_URL_BYTES = 8 * 1024;

/** How long a refused request's remaining bytes are read and dropped before the socket is closed. */
const DRAIN_MS = 5_000;

/** A problem+json response written straight to the socket, then the connection closed. */
function rawProblem(status: number, detail: string): string {
  const body = JSON.stringify(problem(status, detail));
  const reason = { 400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large" }[status];
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}

/** What the parser's error means for the client. */
function clientErrorResponse(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): string {
  if (err.code === "HPE_HEADER_OVERFLOW") {
    const raw = err.rawPacket?.toString("latin1") ?? "";
    const lineEnd = raw.indexOf("\r\n");
    if (lineEnd === -1 || lineEnd > MAX_URL_BYTES)
      return rawProblem(414, `the request target exceeds ${MAX_URL_BYTES} bytes`);
    return rawProblem(431, `the request line and headers exceed ${MAX_HEADER_BYTES} bytes`);
  }
  return rawProblem(400, "the request is not valid HTTP/1.1");
}

export function startServer(
  fetch: (req: Request) => Response | Promise<Response>,
  opts: { port: number; hostname: string },
  onListening?: (info: { address: string; port: number }) => void,
): ServerType {
  const server = serve(
    { fetch, ...opts, serverOptions: { maxHeaderSize: MAX_HEADER_BYTES } },
    onListening,
  ) as Server;
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
