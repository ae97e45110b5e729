/**
 * @module http/metrics
 * Prometheus metrics (prom-client): request counts and latencies by route pattern (never by raw
 * path, which would put secret paths and identities into label values), plus process metrics.
 */
import type { MiddlewareHandler } from "hono";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The live tail's instruments (features/stream takes them as this shape). */
export interface StreamMetrics {
  subscribers: { set(n: number): void };
  sent: { inc(n?: number): void };
  ended: { inc(labels: { reason: string }): void };
  /** Seconds from an event's ingest stamp to the feed reading it. */
  lag: { observe(seconds: number): void };
}

/** Delivery's instruments, per destination (features/delivery takes them as this shape). */
export interface DeliveryMetrics {
  delivered: { inc(labels: { destination: string }, n?: number): void };
  failures: { inc(labels: { destination: string }): void };
  /** 1 while the destination's receiver has failed for longer than DELIVERY_FAILING_AFTER_MS. */
  failing: { set(labels: { destination: string }, v: number): void };
  /** Seconds from the last acknowledged batch's oldest event being stored to its acknowledgement. */
  lag: { set(labels: { destination: string }, v: number): void };
}

export interface Metrics {
  registry: Registry;
  middleware: MiddlewareHandler;
  /** Events through POST /v1/audit/events, by outcome (accepted, duplicate, rejected, redacted values). */
  ingested: Counter<"outcome">;
  /** Values redacted at ingest, by rule: `key` (by key name) or the value rule that found a secret. */
  redactions: Counter<"rule">;
  /** Export jobs that ended on this replica, by outcome (completed, failed, cancelled). */
  exportsFinished: Counter<"outcome">;
  /** Events the retention purge deleted on this replica. */
  purged: Counter;
  /** Tenants' purges that left expired events, by kind of failure. */
  purgeFailures: Counter<"kind">;
  /** Requests refused with 429 by a tenant's budget, by limit (http/budgets). */
  limited: Counter<"limit">;
  /** The live tail on this replica. */
  stream: StreamMetrics;
  /** Delivery to destinations held by this replica. */
  delivery: DeliveryMetrics;
}

/** A route pattern as the OpenAPI document writes it: `/v1/audit/secrets/:path{[\s\S]+}` → `/v1/audit/secrets/{path}`. */
const routeLabel = (pattern: string): string => pattern.replace(/:(\w+)(?:\{.*?\})?(?=\/|$)/g, "{$1}");

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by method, route pattern and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by method and route pattern",
    labelNames: ["method", "route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const middleware: MiddlewareHandler = async (c, next) => {
    const end = duration.startTimer();
    await next();
    // Unmatched requests share one label value so scanners cannot blow up the series count.
    const route = c.res.status === 404 || c.res.status === 405 ? "unmatched" : routeLabel(c.req.routePath);
    end({ method: c.req.method, route });
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
  const ingested = new Counter({
    name: "audit_events_ingested_total",
    help: "Audit events received, by outcome: accepted, duplicate, rejected; redacted counts values replaced (all rules)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const redactions = new Counter({
    name: "audit_redactions_total",
    help: "Values redacted at ingest, by rule: key (the key's name), or the value rule that recognised a secret (private-key, jwt, github, aws, …)",
    labelNames: ["rule"] as const,
    registers: [registry],
  });
  const exportsFinished = new Counter({
    name: "audit_exports_finished_total",
    help: "Export jobs that ended on this replica, by outcome: completed, failed, cancelled",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const purged = new Counter({
    name: "audit_retention_purged_events_total",
    help: "Audit events deleted by the retention purge on this replica",
    registers: [registry],
  });
  const purgeFailures = new Counter({
    name: "audit_retention_purge_failures_total",
    help: "Failures of a tenant's retention purge on this replica, by kind: task_error, document_failures, version_conflicts, timeout, remaining (expired events still stored)",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const limited = new Counter({
    name: "audit_requests_limited_total",
    help: "Requests refused with 429 by a budget, by limit: tenant_rate, subject_rate, tenant_concurrency, replica_concurrency",
    labelNames: ["limit"] as const,
    registers: [registry],
  });
  const stream: StreamMetrics = {
    subscribers: new Gauge({
      name: "audit_stream_subscribers",
      help: "Live-tail streams open on this replica",
      registers: [registry],
    }),
    sent: new Counter({
      name: "audit_stream_events_sent_total",
      help: "Events queued to live-tail clients on this replica",
      registers: [registry],
    }),
    ended: new Counter({
      name: "audit_stream_ended_total",
      help: "Live-tail streams this replica ended, by reason: shutdown, slow_client, token_expired, unavailable",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    lag: new Histogram({
      name: "audit_stream_feed_lag_seconds",
      help: "Time from an event's ingest stamp (event.ingested) to the live-tail feed reading it",
      buckets: [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
      registers: [registry],
    }),
  };
  const delivery: DeliveryMetrics = {
    delivered: new Counter({
      name: "audit_delivery_events_total",
      help: "Events acknowledged by a destination's receiver (delivered by this replica), by destination id",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: "audit_delivery_failures_total",
      help: "Attempts a destination's receiver refused or did not answer, by destination id",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    failing: new Gauge({
      name: "audit_delivery_failing",
      help: "1 while a destination has failed for longer than DELIVERY_FAILING_AFTER_MS, by destination id",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    lag: new Gauge({
      name: "audit_delivery_lag_seconds",
      help: "Seconds from the oldest event of a destination's last acknowledged batch being stored to the acknowledgement",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
  };
  return {
    registry,
    delivery,
    middleware,
    ingested,
    redactions,
    exportsFinished,
    purged,
    purgeFailures,
    limited,
    stream,
  };
}
