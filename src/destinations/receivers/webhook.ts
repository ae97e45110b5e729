/**
 * @module destinations/receivers/webhook
 * An HTTPS endpoint receiving CloudEvents 1.0 — one event per request (structured mode,
 * `application/cloudevents+json`) or a batch (`application/cloudevents-batch+json`) — signed per
 * Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
 * (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the secret's key). Any 2xx is an
 * acknowledgement; a redirect is not followed (it is a failure, like any other answer).
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { DestinationError } from "../errors.ts";
import { answerText, type Outgoing, type ReceiverType } from "../receiver.ts";

const config = z
  .object({
    url: z.url().openapi({
      description:
        "Where to POST. Must be https, unless its origin is listed in EXPORT_ENDPOINT_ALLOWLIST (as every origin but a provider's must be).",
    }),
    mode: z.enum(["structured", "batched"]).default("structured").openapi({
      description:
        "`structured`: one CloudEvent per request, `webhook-id` = the event id. `batched`: a CloudEvents batch per request (up to batch.max_events), `webhook-id` = the first event's id and the count.",
    }),
  })
  .strict()
  .openapi("WebhookConfig");

/** Standard Webhooks secrets are `whsec_` + base64 of the key (24–64 bytes). */
const credentials = z.object({
  signing_secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/)
    .refine((s) => {
      const n = Buffer.from(s.slice(6), "base64").length;
      return n >= 24 && n <= 64;
    }),
});

type Config = z.infer<typeof config>;

/** The CloudEvent of one event (`source` names the tenant's audit log; `type` the action). */
function cloudEvent(tenant: string, e: Outgoing): Record<string, unknown> {
  return {
    specversion: "1.0",
    id: e.id,
    source: `/scaivault/audit/${encodeURIComponent(tenant)}`,
    type: `com.scaivault.audit.${e.action}`,
    subject: e.subject,
    time: e.time,
    datacontenttype: typeof e.data === "string" ? "text/plain" : "application/json",
    data: e.data,
  };
}

/** `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` */
export function sign(key: KeyObject, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export const webhook = {
  type: "webhook",
  config,
  formats: ["json", "ocsf"],
  credentials,
  expected: "signing_secret (a Standard Webhooks secret: whsec_ and 24–64 bytes in base64)",
  endpoints: (c) => ({ url: c.url }),
  schemes: ["http:", "https:"],
  open(c, secret, ctx) {
    const key = createSecretKey(Buffer.from(secret.signing_secret.slice(6), "base64"));
    const post = async (id: string, contentType: string, body: string, signal: AbortSignal) => {
      const timestamp = Math.floor(Date.now() / 1000);
      let res: Response;
      try {
        res = await fetch(c.url, {
          method: "POST",
          headers: {
            "content-type": contentType,
            "webhook-id": id,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": sign(key, id, timestamp, body),
            "user-agent": "scaivault-audit-delivery",
          },
          body,
          redirect: "manual",
          signal: AbortSignal.any([signal, AbortSignal.timeout(ctx.timeoutMs)]),
        });
      } catch (err) {
        const timedOut = (err as Error).name === "TimeoutError";
        throw new DestinationError(
          "destination_error",
          timedOut
            ? `the webhook did not answer within ${ctx.timeoutMs} ms`
            : `the webhook cannot be reached (${answerText((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message, 120)})`,
        );
      }
      const answer = answerText(await res.text().catch(() => ""));
      if (res.status >= 300 && res.status < 400)
        throw new DestinationError(
          "destination_error",
          `the webhook answered HTTP ${res.status} (a redirect, which is not followed)`,
        );
      if (!res.ok)
        throw new DestinationError(
          "destination_error",
          `the webhook answered HTTP ${res.status}${answer ? `: ${answer}` : ""}`,
        );
    };
    return {
      async send(batch, signal) {
        if (c.mode === "batched") {
          if (batch.length === 0) return;
          const body = JSON.stringify(batch.map((e) => cloudEvent(ctx.tenant, e)));
          const first = batch[0] as Outgoing;
          await post(`${first.id}+${batch.length}`, "application/cloudevents-batch+json", body, signal);
          return;
        }
        for (const e of batch)
          await post(e.id, "application/cloudevents+json", JSON.stringify(cloudEvent(ctx.tenant, e)), signal);
      },
      async close() {},
    };
  },
} as const satisfies ReceiverType<"webhook", Config, z.infer<typeof credentials>>;
