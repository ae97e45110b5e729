/**
 * @module destinations/receivers/splunk-hec
 * Splunk's HTTP Event Collector: a batch is one `POST <url>/services/collector/event` of
 * concatenated JSON events with `Authorization: Splunk <token>` (the token from the credentials
 * secret's `hec_token`). Each event carries its exact time (epoch seconds with the microseconds),
 * host, source, sourcetype, optional index, the event, and indexed fields naming the tenant and
 * the event id (to drop a re-sent one). With `ack: true` (indexer acknowledgement) a batch counts as
 * delivered only once Splunk says it was indexed: the POST carries a channel and its ackId is
 * polled at `/services/collector/ack`. A redirect is not followed.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { z } from "@hono/zod-openapi";
import { DestinationError } from "../errors.ts";
import { answerText, type Outgoing, type ReceiverType } from "../receiver.ts";

/** Splunk's metadata fields: printable, one line, bounded. */
const meta = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e][\x20-\x7e]*$/, "must be printable ASCII");

const config = z
  .object({
    url: z.url().openapi({
      description:
        "The collector's base URL (e.g. https://splunk.example.com:8088); events go to /services/collector/event. Its origin must be in EXPORT_ENDPOINT_ALLOWLIST.",
    }),
    index: meta(80).optional().openapi({ description: "Splunk index (the token's default when omitted)." }),
    source: meta(200).default("scaivault:audit"),
    sourcetype: meta(200).optional().openapi({
      description: "Default: `scaivault:audit:json`, `scaivault:audit:ocsf` by format.",
    }),
    host: meta(200).optional().openapi({ description: "Default: this replica's host name." }),
    ack: z.boolean().default(false).openapi({
      description:
        "Indexer acknowledgement: a batch is delivered only once Splunk says it was indexed (the token must have it enabled).",
    }),
  })
  .strict()
  .openapi("SplunkHecConfig");
type Config = z.infer<typeof config>;

const credentials = z.object({ hec_token: z.string().regex(/^[\x21-\x7e]{8,256}$/) });

/** `2026-11-26T14:30:05.123456Z` → `1796481005.123456`, exactly (a double would round it). */
function epochSeconds(time: string): string | undefined {
  const ms = Date.parse(time);
  const micros = /\.(\d{1,6})Z$/.exec(time)?.[1]?.padEnd(6, "0") ?? "000000";
  return Number.isFinite(ms) ? `${Math.floor(ms / 1000)}.${micros}` : undefined;
}

/** How often indexer acknowledgements are asked for while a batch waits for them. */
const ACK_POLL_MS = 250;

export const splunkHec = {
  type: "splunk_hec",
  config,
  formats: ["json", "ocsf"],
  credentials,
  expected: "hec_token (the HEC token)",
  endpoints: (c) => ({ url: c.url }),
  schemes: ["http:", "https:"],
  open(c, secret, ctx) {
    const base = c.url.replace(/\/+$/, "");
    const host = c.host ?? (hostname().match(/^[\x21-\x7e]{1,200}$/) ?? ["scaivault-audit"])[0];
    const channel = randomUUID();
    const call = async (path: string, body: string, signal: AbortSignal) => {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method: "POST",
          headers: {
            Authorization: `Splunk ${secret.hec_token}`,
            "Content-Type": "application/json",
            ...(c.ack ? { "X-Splunk-Request-Channel": channel } : {}),
          },
          body,
          redirect: "manual",
          signal: AbortSignal.any([signal, AbortSignal.timeout(ctx.timeoutMs)]),
        });
      } catch (err) {
        throw new DestinationError(
          "destination_error",
          (err as Error).name === "TimeoutError"
            ? `the HEC did not answer within ${ctx.timeoutMs} ms`
            : `the HEC cannot be reached (${answerText((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message, 120)})`,
        );
      }
      const text = await res.text().catch(() => "");
      let answer: { text?: unknown; code?: unknown; ackId?: unknown; acks?: Record<string, boolean> } = {};
      try {
        answer = JSON.parse(text);
      } catch {
        // Not Splunk's JSON (a proxy's page): reported as text below.
      }
      if (!res.ok || (answer.code !== undefined && answer.code !== 0))
        throw new DestinationError(
          "destination_error",
          `the HEC answered HTTP ${res.status}${
            typeof answer.text === "string"
              ? `: ${answerText(answer.text)} (code ${String(answer.code)})`
              : text
                ? `: ${answerText(text)}`
                : ""
          }`,
        );
      return answer;
    };
    return {
      async send(batch: Outgoing[], signal: AbortSignal) {
        if (batch.length === 0) return;
        const body = batch
          .map((e) => {
            const rest = JSON.stringify({
              host,
              source: c.source,
              sourcetype:
                c.sourcetype ??
                (typeof e.data === "object" && "class_uid" in e.data
                  ? "scaivault:audit:ocsf"
                  : "scaivault:audit:json"),
              ...(c.index ? { index: c.index } : {}),
              event: e.data,
              fields: { tenant: ctx.tenant, event_id: e.id, action: e.action },
            });
            const time = epochSeconds(e.time);
            return time ? `{"time":${time},${rest.slice(1)}` : rest;
          })
          .join("\n");
        const answer = await call("/services/collector/event", body, signal);
        if (!c.ack) return;
        if (typeof answer.ackId !== "number")
          throw new DestinationError(
            "destination_error",
            "the HEC gave no ackId: is indexer acknowledgement enabled for the token?",
          );
        const ackId = answer.ackId;
        const until = Date.now() + ctx.timeoutMs * 3;
        for (;;) {
          const acks = (await call("/services/collector/ack", JSON.stringify({ acks: [ackId] }), signal))
            .acks;
          if (acks?.[String(ackId)] === true) return;
          if (Date.now() > until)
            throw new DestinationError(
              "destination_error",
              `the HEC did not acknowledge indexing within ${ctx.timeoutMs * 3} ms`,
            );
          await new Promise((r) => setTimeout(r, ACK_POLL_MS));
        }
      },
      async close() {},
    };
  },
} as const satisfies ReceiverType<"splunk_hec", Config, z.infer<typeof credentials>>;
