/**
 * A live-tail client for tests: serves an app on a loopback port and reads its event streams the
 * way a browser's EventSource does (WHATWG rules, including an `id` without `data` updating the
 * last event id, which parser libraries skip), recording when each message arrived.
 */
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";
import { startServer } from "../../src/http/server.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { testApp } from "./app.ts";

export interface SseMessage {
  id: string;
  event: string;
  data: string;
  /** performance.now() when it arrived. */
  at: number;
}

/** Serves `app` on 127.0.0.1 (a free port) until `close`. */
export async function listen(app: { fetch: (req: Request) => Response | Promise<Response> }) {
  const server = await new Promise<ReturnType<typeof startServer>>((resolve) => {
    const s = startServer(app.fetch, { port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/**
 * A test app served on loopback for the whole file: bootstrapped and listening before the file's
 * tests, closed after them. `base` is set once it listens.
 */
export function servedForFile(url: string, opts: Parameters<typeof testApp>[1] = {}) {
  const served = { ...testApp(url, opts), base: "" };
  let listening: Awaited<ReturnType<typeof listen>> | undefined;
  beforeAll(async () => {
    await served.readiness.runOnce(served.client, await loadAssets());
    listening = await listen(served.app);
    served.base = listening.base;
  });
  afterAll(async () => {
    await served.hub.close();
    await listening?.close();
    await served.client.close();
  });
  return served;
}

export class SseStream {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  /** How many events (not `end`) arrived. */
  received = 0;
  /** The last event id as EventSource keeps it. */
  lastEventId = "";
  retry: number | undefined;
  /** Resolves when the server ends the stream (or it is aborted). */
  readonly ended: Promise<void>;
  readonly #abort: AbortController;

  constructor(res: Response, abort: AbortController) {
    this.#abort = abort;
    this.ended = this.#read(res).catch(() => undefined);
  }

  /** The `data` of every event (not `end`) parsed as JSON. */
  get events(): any[] {
    return this.messages.filter((m) => m.event === "message").map((m) => JSON.parse(m.data));
  }

  close(): void {
    this.#abort.abort();
  }

  /** Waits until `done()` holds, failing after `timeoutMs`. */
  async until(done: () => boolean, timeoutMs = 10_000, what = "the stream"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (${this.received} events so far)`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async #read(res: Response): Promise<void> {
    const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    let data: string[] = [];
    let event = "";
    let idBuffer = this.lastEventId;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const lines = (rest + value).split("\n");
      rest = lines.pop() as string;
      for (const line of lines) {
        if (line === "") {
          this.lastEventId = idBuffer;
          if (data.length > 0 && (event || "message") === "message") this.received++;
          if (data.length > 0)
            this.messages.push({
              id: idBuffer,
              event: event || "message",
              data: data.join("\n"),
              at: performance.now(),
            });
          data = [];
          event = "";
        } else if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
        else {
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "id") idBuffer = v;
          else if (field === "data") data.push(v);
          else if (field === "event") event = v;
          else if (field === "retry") this.retry = Number(v);
        }
      }
    }
  }
}

/** Opens `/v1/audit/stream?query`; the stream is present only on a 200. */
export async function openStream(
  base: string,
  token: string,
  opts: { query?: string; lastEventId?: string } = {},
): Promise<{ res: Response; stream: SseStream | undefined }> {
  const abort = new AbortController();
  const res = await fetch(`${base}/v1/audit/stream${opts.query ? `?${opts.query}` : ""}`, {
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: "text/event-stream",
      ...(opts.lastEventId !== undefined ? { "Last-Event-ID": opts.lastEventId } : {}),
    },
    signal: abort.signal,
  });
  return { res, stream: res.status === 200 ? new SseStream(res, abort) : undefined };
}
