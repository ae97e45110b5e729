/**
 * @module features/stream/subscriber
 * One live-tail client: who it is, what it asked for, where it is, and its outgoing SSE messages.
 * The response body pulls from a bounded queue, so a client that reads slowly fills the queue
 * rather than the process; past the bound it is told why and disconnected, never skipped.
 */

import type { StoredEvent } from "../../events/event.mapping.ts";
import type { AuditEvent } from "../../events/event.schema.ts";
import { formatEvent } from "../../formats/formats.ts";
import { formatPosition, type Position } from "../../opensearch/position.ts";
import type { Tenant } from "../../tenancy/tenant-scope.ts";

export const STREAM_FORMATS = ["json", "ocsf"] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];

/** A message's `data`: the event in the stream's format, one line of JSON. */
export const render = (format: StreamFormat, doc: StoredEvent, tenant: string): string =>
  JSON.stringify(format === "json" ? doc.event : formatEvent(format, doc.event, tenant, doc.ingested));

export type EndReason = "shutdown" | "slow_client" | "unavailable" | "token_expired";

const ENDINGS: Record<EndReason, string> = {
  shutdown: "the server is shutting down; reconnect with Last-Event-ID to continue where this stream ended",
  token_expired: "the token has expired; reconnect with a new token and Last-Event-ID to continue",
  unavailable:
    "the audit store could not be read; reconnect with Last-Event-ID to continue after the last event received",
  slow_client:
    "the client read too slowly and its buffer filled up; reconnect with Last-Event-ID to continue after the last event received",
};

/** How much is handed to the socket at once. */
const CHUNK_CHARS = 64 * 1024;
const encoder = new TextEncoder();

export class Subscriber {
  readonly tenant: Tenant;
  readonly accepts: (e: AuditEvent) => boolean;
  /** What each message's `data` holds: the event as /logs returns it, or OCSF. */
  readonly format: StreamFormat;
  /** Every matching event before this position has been queued for the client. */
  pos: Position;
  readonly body: ReadableStream<Uint8Array>;
  /** Resolves once the response has ended, however it ended. */
  readonly closed: Promise<void>;

  #queue: string[] = [];
  #chars = 0;
  #lastId = "";
  #ending = false;
  #gone = false;
  #wake: (() => void) | undefined;
  #roomWaiters: (() => void)[] = [];
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #done!: () => void;
  /** The buffer bound, counted in characters (JSON events are nearly all ASCII: about bytes). */
  readonly #limitChars: number;

  constructor(opts: {
    tenant: Tenant;
    accepts: (e: AuditEvent) => boolean;
    format?: StreamFormat;
    pos: Position;
    bufferBytes: number;
    retryMs: number;
    /** Called once when the client has gone (disconnected, ended or cut off). */
    onGone: () => void;
  }) {
    this.tenant = opts.tenant;
    this.accepts = opts.accepts;
    this.format = opts.format ?? "json";
    this.pos = opts.pos;
    this.#limitChars = opts.bufferBytes;
    this.closed = new Promise((resolve) => {
      this.#done = () => {
        if (this.#gone) return;
        this.#gone = true;
        for (const w of this.#roomWaiters.splice(0)) w();
        opts.onGone();
        resolve();
      };
    });
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: (controller) => this.#pull(controller),
        cancel: () => this.#done(),
      },
      // Nothing buffered inside the stream: the queue below is the client's buffer.
      { highWaterMark: 0 },
    );
    this.#push(`retry: ${opts.retryMs}\n\n`);
  }

  get gone(): boolean {
    return this.#gone || this.#ending;
  }

  /** Queues an event; false when that overflowed the buffer (the caller then ends the stream). */
  event(pos: Position, data: string): boolean {
    if (this.gone) return true; // ending: nothing more is queued
    this.pos = pos;
    this.#lastId = formatPosition(pos);
    this.#push(`id: ${this.#lastId}\ndata: ${data}\n\n`);
    return this.#chars <= this.#limitChars;
  }

  /**
   * A heartbeat comment, with the client's position as an `id` (no data, so no event is
   * dispatched) when it moved since the last one: a client with narrow filters then resumes from
   * where the stream was, not from its last matching event.
   */
  heartbeat(): void {
    if (this.gone) return;
    this.#push(`: heartbeat\n${this.#idLine()}\n`);
  }

  /** Just the position (see heartbeat), e.g. once the client has caught up. */
  checkpoint(): void {
    if (this.gone) return;
    const line = this.#idLine();
    if (line) this.#push(`${line}\n`);
  }

  #idLine(): string {
    const id = formatPosition(this.pos);
    if (id === this.#lastId) return "";
    this.#lastId = id;
    return `id: ${id}\n`;
  }

  /** Resolves when the buffer is at most half full (catch-up reads wait on it). */
  room(): Promise<void> {
    if (this.#chars <= this.#limitChars / 2 || this.gone) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /**
   * Ends the stream with a final `end` message. A slow client's backlog is dropped first (the
   * message carries no id, so the client resumes after the last event it did receive). If the
   * client does not read the message within `graceMs`, the connection is cut.
   */
  end(reason: EndReason, opts: { dropQueued?: boolean; graceMs?: number } = {}): void {
    if (this.gone) return;
    if (opts.dropQueued) {
      this.#queue = [];
      this.#chars = 0;
    }
    this.#push(`event: end\ndata: ${JSON.stringify({ reason, detail: ENDINGS[reason] })}\n\n`);
    this.#ending = true;
    this.#wake?.();
    const timer = setTimeout(() => {
      try {
        this.#controller.error(new Error(`live tail ended (${reason}) and the client did not read`));
      } catch {
        // already closed
      }
      this.#done();
    }, opts.graceMs ?? 10_000);
    timer.unref();
    void this.closed.then(() => clearTimeout(timer));
  }

  #push(text: string): void {
    this.#queue.push(text);
    this.#chars += text.length;
    this.#wake?.();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.#queue.length === 0) {
      if (this.#ending || this.#gone) {
        controller.close();
        this.#done();
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    let chunk = "";
    while (this.#queue.length > 0 && chunk.length < CHUNK_CHARS) chunk += this.#queue.shift() as string;
    this.#chars -= chunk.length;
    controller.enqueue(encoder.encode(chunk));
    if (this.#chars <= this.#limitChars / 2) for (const w of this.#roomWaiters.splice(0)) w();
  }
}
