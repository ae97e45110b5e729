/**
 * A webhook receiver for delivery tests, on loopback: every request's signature is checked with
 * the `standardwebhooks` library and its body parsed with the `cloudevents` SDK (structured or
 * batched) — independent of the service's own code. `refuse(status)` makes it answer that status
 * instead (a failing SIEM), `refuse(null)` heals it; `delay(ms)` makes it slow.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type CloudEvent, HTTP } from "cloudevents";
import { Webhook } from "standardwebhooks";

export interface WebhookRequest {
  webhookId: string;
  contentType: string;
  events: CloudEvent<unknown>[];
}

export interface WebhookReceiver {
  url: string;
  origin: string;
  /** Every acknowledged request, in arrival order. */
  requests: WebhookRequest[];
  /** Every acknowledged event, in arrival order. */
  events(): CloudEvent<unknown>[];
  /** Requests whose signature did not verify (answered 401). */
  badSignatures: number;
  /** Requests refused on purpose. */
  refused: number;
  refuse(status: number | null): void;
  /** Answers each request only after `ms` (a slow SIEM). */
  delay(ms: number): void;
  /** Stops listening (connections are refused) until up(): a SIEM that is down. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const verifier = new Webhook(secret);
  let refusing: number | null = null;
  let delayMs = 0;
  const r = {
    requests: [] as WebhookRequest[],
    badSignatures: 0,
    refused: 0,
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]),
    );
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (refusing !== null) {
      r.refused++;
      res.writeHead(refusing, { "content-type": "text/plain" }).end("receiver refuses on purpose");
      return;
    }
    try {
      verifier.verify(body, headers);
    } catch {
      r.badSignatures++;
      res.writeHead(401).end("bad signature");
      return;
    }
    const parsed = HTTP.toEvent({ headers, body });
    r.requests.push({
      webhookId: headers["webhook-id"] ?? "",
      contentType: headers["content-type"] ?? "",
      events: (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent<unknown>[],
    });
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return Object.assign(r, {
    url: `${origin}/hooks/audit`,
    origin,
    events: () => r.requests.flatMap((q) => q.events),
    refuse(status: number | null) {
      refusing = status;
    },
    delay(ms: number) {
      delayMs = ms;
    },
    down: close,
    up: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve)),
    stop: close,
  });
}
