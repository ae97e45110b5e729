/**
 * @module cli/sse
 * A server-sent events reader, as the HTML standard's EventSource parses a stream: lines end in
 * CRLF, LF or CR; `id` (even without `data`) sets the last event id; `data` lines join with LF;
 * a blank line dispatches. No SSE library is a dependency of the project (eventsource-parser is
 * not installed, and it ignores an id without data, which the live tail's heartbeats rely on).
 */

export interface SseMessage {
  event: string;
  /** undefined for a message that only moved the last event id. */
  data: string | undefined;
  /** The last event id after this message. */
  id: string | undefined;
}

export async function* readSse(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseMessage | { retry: number }> {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  let idSet = false;
  const decoder = new TextDecoderStream();
  for await (const chunk of body.pipeThrough(decoder) as unknown as AsyncIterable<string>) {
    buffer += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buffer);
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (!m || (m[0] === "\r" && m.index === buffer.length - 1)) break;
      const line = buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
      if (line === "") {
        if (data.length > 0 || idSet)
          yield { event: event || "message", data: data.length ? data.join("\n") : undefined, id };
        event = "";
        data = [];
        idSet = false;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id" && !value.includes("\0")) {
        id = value;
        idSet = true;
      } else if (field === "retry" && /^\d+$/.test(value)) yield { retry: Number(value) };
    }
  }
}
