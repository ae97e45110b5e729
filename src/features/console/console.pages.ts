/**
 * @module features/console/pages
 * Each page: what it asks the API (with the signed-in user's token) and how it shows the answer.
 * A page that gets an API error shows it — title, detail, each offending field — with its status.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { FILTER_PARAMS } from "../../filters/filters.ts";
import type { Answer, Api } from "./console.api.ts";
import {
  type AuditEvent,
  countTable,
  csrfField,
  eventTable,
  filterFields,
  pager,
  problemBox,
  type View,
  withParam,
} from "./console.views.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
export interface Page {
  title: string;
  status: number;
  body: Html;
}

/** The /logs filters and paging, as the console's URLs carry them. */
const LOG_PARAMS: readonly string[] = [...FILTER_PARAMS, "limit", "cursor"];

/** The non-empty values of `names` in `q` (a form sends every field, filled or not). */
export function pick(q: URLSearchParams, names: readonly string[]): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of q) if (names.includes(k) && v.trim() !== "") out.append(k, v.trim());
  return out;
}

const failed = (title: string, answer: Extract<Answer<unknown>, { ok: false }>, before?: Html): Page => ({
  title,
  status: answer.status,
  body: html`${before ?? ""}${problemBox(answer.problem)}`,
});

type EventsPage = { entries: AuditEvent[]; next_cursor: string | null };

export async function eventsPage(api: Api, url: URL): Promise<Page> {
  const q = pick(url.searchParams, LOG_PARAMS);
  const form = html`<form class="filters" method="get" action="/console/events" role="search">
  ${filterFields(q)}
  <div class="field"><label for="f-limit">Per page</label><input id="f-limit" name="limit" value="${q.get("limit") ?? "50"}" inputmode="numeric"></div>
  <div class="actions"><button type="submit">Search</button> <a href="/console/events">Clear</a></div>
</form>`;
  const answer = await api.get<EventsPage>("/v1/audit/logs", q.has("limit") ? q : withLimit(q, 50));
  if (!answer.ok) return failed("Events", answer, form);
  return {
    title: "Events",
    status: 200,
    body: html`${form}${eventTable(answer.body.entries, "Events, newest first")}${pager("/console/events", q, answer.body.next_cursor)}`,
  };
}

const withLimit = (q: URLSearchParams, limit: number) => {
  const next = new URLSearchParams(q);
  next.set("limit", String(limit));
  return next;
};

type PathsPage = {
  paths: { path: string; actions: Record<string, number>; first_at: string; last_at: string }[];
  next_cursor: string | null;
};

export async function trailsPage(api: Api, url: URL): Promise<Page> {
  const secret = url.searchParams.get("secret")?.trim() ?? "";
  const identity = url.searchParams.get("identity")?.trim() ?? "";
  const filters = pick(url.searchParams, ["from", "to", "cursor"]);
  const form = html`<form class="filters" method="get" action="/console/trails">
  <div class="field"><label for="f-secret">Secret path</label><input id="f-secret" name="secret" value="${secret}" placeholder="prod/payments/db-password"></div>
  <div class="field"><label for="f-identity">or identity</label><input id="f-identity" name="identity" value="${identity}" placeholder="user:alice@example.com"></div>
  ${filterFields(filters, ["action", "identity_id", "identity_type", "path_prefix", "success", "source_ip", "request_id", "q"])}
  <div class="actions"><button type="submit">Show trail</button></div>
</form>`;
  const base = withParam("/console/trails", url.searchParams, "cursor", null);
  if (secret) {
    const answer = await api.get<EventsPage>(
      `/v1/audit/secrets/${encodeSegments(secret)}`,
      withLimit(filters, 50),
    );
    if (!answer.ok) return failed("Trails", answer, form);
    return {
      title: "Trails",
      status: 200,
      body: html`${form}<h2>History of <code>${secret}</code></h2>
${eventTable(answer.body.entries, `Every event on ${secret}, newest first`)}
${pager(base, pick(url.searchParams, ["secret", "from", "to", "cursor"]), answer.body.next_cursor)}`,
    };
  }
  if (identity) {
    const id = encodeURIComponent(identity);
    const window = pick(url.searchParams, ["from", "to"]);
    const [actions, paths] = await Promise.all([
      api.get<EventsPage>(`/v1/audit/identities/${id}`, withLimit(filters, 50)),
      api.get<PathsPage>(`/v1/audit/identities/${id}/paths`, withLimit(window, 500)),
    ]);
    if (!actions.ok) return failed("Trails", actions, form);
    if (!paths.ok) return failed("Trails", paths, form);
    const csv = `/console/trails/paths.csv?${new URLSearchParams([["identity", identity], ...window])}`;
    return {
      title: "Trails",
      status: 200,
      body: html`${form}
<section aria-labelledby="checklist">
<h2 id="checklist">Offboarding checklist: paths <code>${identity}</code> touched</h2>
<p><a href="${csv}" download>Download the checklist as CSV</a>${paths.body.next_cursor ? " (the CSV has every path; the list below shows the first 500)" : ""}</p>
${
  paths.body.paths.length === 0
    ? html`<p class="empty">No paths.</p>`
    : html`<table class="checklist"><caption>Each path with the actions taken on it</caption>
  <thead><tr><th scope="col">Reviewed</th><th scope="col">Path</th><th scope="col">Actions</th><th scope="col">First</th><th scope="col">Last</th></tr></thead>
  <tbody>${paths.body.paths.map(
    (p, i) => html`<tr><td><input type="checkbox" id="rev-${i}" aria-label="Reviewed ${p.path}"></td>
    <td class="path">${p.path}</td><td>${Object.entries(p.actions)
      .map(([a, n]) => `${a} ${n}`)
      .join(", ")}</td><td>${p.first_at}</td><td>${p.last_at}</td></tr>`,
  )}</tbody></table>`
}
</section>
<h2>Actions of <code>${identity}</code></h2>
${eventTable(actions.body.entries, `Actions of ${identity}, newest first`)}
${pager(base, pick(url.searchParams, ["identity", "from", "to", "cursor"]), actions.body.next_cursor)}`,
    };
  }
  return {
    title: "Trails",
    status: 200,
    body: html`${form}<p>A secret's whole history, or everything an identity did and every path it touched.</p>`,
  };
}

/** A secret path as the trail route takes it: each segment encoded, the slashes kept. */
const encodeSegments = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/** Every path an identity touched, page by page, for the CSV checklist. */
export async function* identityPaths(api: Api, identity: string, window: URLSearchParams) {
  let cursor: string | null = null;
  do {
    const q = withLimit(window, 1000);
    if (cursor) q.set("cursor", cursor);
    const answer: Answer<PathsPage> = await api.get<PathsPage>(
      `/v1/audit/identities/${encodeURIComponent(identity)}/paths`,
      q,
    );
    if (!answer.ok) throw answer;
    yield* answer.body.paths;
    cursor = answer.body.next_cursor;
  } while (cursor);
}

interface Summary {
  from: string;
  to: string;
  total: number;
  outcomes: Record<string, number>;
  by_action: Record<string, number>;
  by_identity_type: Record<string, number>;
  unique_identities: number;
  unique_paths: number;
  top_identities: { identity_id: string; count: number; failures: number }[];
  top_paths: { path: string; count: number }[];
  top_source_ips: { source_ip: string; count: number }[];
  errors: Record<string, number>;
  histogram: { interval: string; buckets: { start: string; total: number; failures: number }[] };
}
interface Anomalies {
  baseline: string;
  threshold: number;
  evaluated: number;
  anomalies: {
    key: string;
    observed: number;
    baseline: { mean: number; stddev: number; slots: number } | null;
    score: number | null;
    reason: string;
  }[];
}

const SUMMARY_PARAMS = LOG_PARAMS.filter((p) => p !== "limit" && p !== "cursor").concat("interval", "top");

export async function summaryPage(api: Api, url: URL): Promise<Page> {
  const q = pick(url.searchParams, SUMMARY_PARAMS);
  // The last day by default: anomalies need a window, and a console opens on what just happened.
  if (!q.has("from")) q.set("from", "now-24h");
  if (!q.has("to")) q.set("to", "now");
  const groupBy = url.searchParams.get("group_by") === "path" ? "path" : "identity_id";
  const form = html`<form class="filters" method="get" action="/console/summary">
  ${filterFields(q)}
  <div class="field"><label for="f-interval">Interval</label><input id="f-interval" name="interval" value="${q.get("interval") ?? ""}" placeholder="automatic"></div>
  <div class="field"><label for="f-group_by">Anomalies by</label><select id="f-group_by" name="group_by">
    <option value="identity_id"${groupBy === "identity_id" ? html` selected` : ""}>identity</option>
    <option value="path"${groupBy === "path" ? html` selected` : ""}>path</option></select></div>
  <div class="actions"><button type="submit">Summarize</button></div>
</form>`;
  const window = pick(q, ["from", "to"]);
  window.set("group_by", groupBy);
  const [summary, anomalies] = await Promise.all([
    api.get<Summary>("/v1/audit/summary", q),
    api.get<Anomalies>("/v1/audit/anomalies", window),
  ]);
  if (!summary.ok) return failed("Summary", summary, form);
  const s = summary.body;
  const buckets = s.histogram.buckets;
  return {
    title: "Summary",
    status: 200,
    body: html`${form}
<p class="totals"><strong>${s.total}</strong> events from <time>${s.from}</time> to <time>${s.to}</time> ·
  ${s.outcomes.failure ?? 0} failures · ${s.unique_identities} identities · ${s.unique_paths} paths (approximate)</p>
<figure>
  <div class="chart" data-chart="${JSON.stringify({ start: buckets.map((b) => Date.parse(b.start) / 1000), total: buckets.map((b) => b.total), failures: buckets.map((b) => b.failures) })}"
    role="img" aria-label="Events per ${s.histogram.interval}: ${buckets.length} buckets, ${s.total} events, ${s.outcomes.failure ?? 0} failures"></div>
  <figcaption>Events per ${s.histogram.interval} (failures in red)</figcaption>
  <details><summary>The numbers behind the chart</summary>
  <table class="counts"><caption>Histogram buckets</caption><thead><tr><th scope="col">Start</th><th scope="col">Events</th><th scope="col">Failures</th></tr></thead>
  <tbody>${buckets.map((b) => html`<tr><td>${b.start}</td><td class="num">${b.total}</td><td class="num">${b.failures}</td></tr>`)}</tbody></table>
  </details>
</figure>
<div class="grid">
  <table class="counts"><caption>Top identities</caption><thead><tr><th scope="col">Identity</th><th scope="col">Events</th><th scope="col">Failures</th></tr></thead>
  <tbody>${s.top_identities.map((t) => html`<tr><td><a href="/console/trails?identity=${encodeURIComponent(t.identity_id)}">${t.identity_id}</a></td><td class="num">${t.count}</td><td class="num">${t.failures}</td></tr>`)}</tbody></table>
  <table class="counts"><caption>Top paths</caption><thead><tr><th scope="col">Path</th><th scope="col">Events</th></tr></thead>
  <tbody>${s.top_paths.map((t) => html`<tr><td><a href="/console/trails?secret=${encodeURIComponent(t.path)}">${t.path}</a></td><td class="num">${t.count}</td></tr>`)}</tbody></table>
  <table class="counts"><caption>Top source IPs</caption><thead><tr><th scope="col">Source IP</th><th scope="col">Events</th></tr></thead>
  <tbody>${s.top_source_ips.map((t) => html`<tr><td>${t.source_ip}</td><td class="num">${t.count}</td></tr>`)}</tbody></table>
  ${countTable("By action", nonZero(s.by_action), "Action")}
  ${countTable("Errors", s.errors, "Error code")}
</div>
<section aria-labelledby="anomalies"><h2 id="anomalies">Anomalies</h2>
${anomalies.ok ? anomalyTable(anomalies.body) : problemBox(anomalies.problem)}
</section>`,
  };
}

const nonZero = (counts: Record<string, number>) =>
  Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
const round = (n: number) => (Math.round(n * 100) / 100).toString();

const anomalyTable = (a: Anomalies) =>
  a.anomalies.length === 0
    ? html`<p class="empty">None: ${a.evaluated} entities scored against a ${a.baseline} baseline (threshold ${a.threshold}).</p>`
    : html`<table><caption>${a.anomalies.length} of ${a.evaluated} entities depart from their ${a.baseline} baseline (|z| ≥ ${a.threshold})</caption>
  <thead><tr><th scope="col">Entity</th><th scope="col">Verdict</th><th scope="col">Observed</th><th scope="col">Baseline mean</th><th scope="col">Std. dev.</th><th scope="col">Slots</th><th scope="col">Score (z)</th></tr></thead>
  <tbody>${a.anomalies.map(
    (x) => html`<tr><td>${x.key}</td><td>${x.reason}</td><td class="num">${x.observed}</td>
    <td class="num">${x.baseline ? round(x.baseline.mean) : "—"}</td><td class="num">${x.baseline ? round(x.baseline.stddev) : "—"}</td>
    <td class="num">${x.baseline?.slots ?? "—"}</td><td class="num">${x.score === null ? "new" : round(x.score)}</td></tr>`,
  )}</tbody></table>`;

interface ExportView {
  export_id: string;
  status: string;
  format: string;
  compression: string;
  filters: Record<string, unknown>;
  destination: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  progress: { records: number; estimated_total: number | null };
  error: { code: string; message: string } | null;
  manifest: {
    files: { uri: string; records: number; bytes: number; sha256: string }[];
    total_records: number;
  } | null;
}

const DESTINATION_FIELDS = [
  "bucket",
  "container",
  "prefix",
  "region",
  "account",
  "container_url",
  "endpoint",
  "credentials_secret",
];

/** The export request a create form describes: only the fields filled in, as the API names them. */
export function exportRequest(form: Record<string, string | string[]>): Record<string, unknown> {
  const one = (name: string) => {
    const v = form[name];
    return (Array.isArray(v) ? v[0] : v)?.trim() ?? "";
  };
  const filters: Record<string, unknown> = {};
  for (const name of ["from", "to", "identity_id", "path_prefix"]) if (one(name)) filters[name] = one(name);
  const actions = ([] as string[]).concat(form.action ?? []).filter(Boolean);
  if (actions.length) filters.action = actions;
  const destination: Record<string, unknown> = { type: one("type") };
  for (const name of DESTINATION_FIELDS) if (one(name)) destination[name] = one(name);
  return { format: one("format"), compression: one("compression"), filters, destination };
}

export async function exportsPage(api: Api, url: URL, v: View, problem?: Page): Promise<Page> {
  if (!v.scopes.has("audit:export"))
    return {
      title: "Exports",
      status: 200,
      body: html`<p>Your token lacks <code>audit:export</code>: exports are not available to it.</p>`,
    };
  const q = pick(url.searchParams, ["cursor"]);
  const list = await api.get<{ entries: ExportView[]; next_cursor: string | null }>("/v1/audit/exports", q);
  const form = html`<form class="create" method="post" action="/console/exports">
  <h2>New export</h2>${csrfField(v)}
  <div class="field"><label for="x-format">Format</label><select id="x-format" name="format"><option>jsonl</option><option>csv</option><option>ocsf</option></select></div>
  <div class="field"><label for="x-compression">Compression</label><select id="x-compression" name="compression"><option>gzip</option><option>none</option></select></div>
  <div class="field"><label for="x-from">From</label><input id="x-from" name="from" placeholder="now-30d"></div>
  <div class="field"><label for="x-to">To</label><input id="x-to" name="to" placeholder="now"></div>
  <div class="field"><label for="x-path_prefix">Path prefix</label><input id="x-path_prefix" name="path_prefix"></div>
  <div class="field"><label for="x-identity_id">Identity</label><input id="x-identity_id" name="identity_id"></div>
  <div class="field"><label for="x-type">Destination</label><select id="x-type" name="type"><option value="s3">Amazon S3</option><option value="gcs">Google Cloud Storage</option><option value="azure_blob">Azure Blob Storage</option></select></div>
  <div class="field"><label for="x-bucket">Bucket (S3, GCS)</label><input id="x-bucket" name="bucket"></div>
  <div class="field"><label for="x-container">Container (Azure)</label><input id="x-container" name="container"></div>
  <div class="field"><label for="x-account">Account (Azure)</label><input id="x-account" name="account"></div>
  <div class="field"><label for="x-prefix">Prefix</label><input id="x-prefix" name="prefix" placeholder="scaivault/2026-11/"></div>
  <div class="field"><label for="x-region">Region (S3)</label><input id="x-region" name="region" placeholder="us-east-1"></div>
  <div class="field"><label for="x-endpoint">Endpoint (allowlisted)</label><input id="x-endpoint" name="endpoint"></div>
  <div class="field"><label for="x-credentials_secret">Credentials secret</label><input id="x-credentials_secret" name="credentials_secret" placeholder="infra/aws/audit-exporter" required></div>
  <div class="actions"><button type="submit">Start export</button></div>
</form>`;
  if (!list.ok) return failed("Exports", list, form);
  const rows = list.body.entries;
  return {
    title: "Exports",
    status: problem?.status ?? 200,
    body: html`${problem?.body ?? ""}
${
  rows.length === 0
    ? html`<p class="empty">No exports yet.</p>`
    : html`<table><caption>Exports, newest first</caption>
  <thead><tr><th scope="col">Export</th><th scope="col">Status</th><th scope="col">Format</th><th scope="col">Records</th><th scope="col">Created</th></tr></thead>
  <tbody>${rows.map(
    (x) => html`<tr><td><a href="/console/exports/${x.export_id}">${x.export_id}</a></td><td>${x.status}</td>
    <td>${x.format}${x.compression === "gzip" ? " (gzip)" : ""}</td><td class="num">${x.progress.records}</td><td>${x.created_at}</td></tr>`,
  )}</tbody></table>`
}
${pager("/console/exports", q, list.body.next_cursor)}
${form}`,
  };
}

export async function exportPage(api: Api, id: string, v: View): Promise<Page> {
  const answer = await api.get<ExportView>(`/v1/audit/exports/${encodeURIComponent(id)}`);
  if (!answer.ok) return failed("Export", answer);
  const x = answer.body;
  return {
    title: `Export ${x.export_id}`,
    status: 200,
    body: html`<dl class="facts">
  <dt>Format</dt><dd>${x.format}${x.compression === "gzip" ? " (gzip)" : ""}</dd>
  <dt>Filters</dt><dd><code>${JSON.stringify(x.filters)}</code></dd>
  <dt>Destination</dt><dd><code>${JSON.stringify(x.destination)}</code></dd>
  <dt>Created</dt><dd>${x.created_at}</dd>
</dl>
${exportProgress(x, v)}
<p><a href="/console/exports">All exports</a></p>`,
  };
}

const RUNNING = new Set(["pending", "running"]);

/** The export's state; while it runs, htmx asks for this fragment again every second. */
export function exportProgress(x: ExportView, v: View): Html {
  const running = RUNNING.has(x.status);
  const total = x.progress.estimated_total;
  return html`<section id="progress" aria-live="polite"${
    running
      ? html` hx-get="/console/exports/${x.export_id}/progress" hx-trigger="every 1s" hx-swap="outerHTML"`
      : ""
  }>
  <h2>Status: <span class="status">${x.status}</span></h2>
  <p><label for="export-progress">Records written</label>
  <progress id="export-progress" max="${total ?? 1}" value="${total === null ? 0 : Math.min(x.progress.records, total)}"></progress>
  <span class="records">${x.progress.records}</span>${total === null ? "" : html` of ${total}`}</p>
  ${x.error ? html`<p role="alert" class="problem"><strong>${x.error.code}</strong>: ${x.error.message}</p>` : ""}
  ${
    running
      ? html`<form method="post" action="/console/exports/${x.export_id}/cancel">${csrfField(v)}<button type="submit">Cancel export</button></form>`
      : ""
  }
  ${
    x.manifest
      ? html`<table class="manifest"><caption>Manifest: ${x.manifest.total_records} records</caption>
    <thead><tr><th scope="col">File</th><th scope="col">Records</th><th scope="col">Bytes</th><th scope="col">SHA-256</th></tr></thead>
    <tbody>${x.manifest.files.map((f) => html`<tr><td>${f.uri}</td><td class="num">${f.records}</td><td class="num">${f.bytes}</td><td><code>${f.sha256}</code></td></tr>`)}</tbody></table>`
      : ""
  }
</section>`;
}

export async function exportFragment(api: Api, id: string, v: View): Promise<{ status: number; body: Html }> {
  const answer = await api.get<ExportView>(`/v1/audit/exports/${encodeURIComponent(id)}`);
  return answer.ok
    ? { status: 200, body: exportProgress(answer.body, v) }
    : { status: answer.status, body: html`<section id="progress">${problemBox(answer.problem)}</section>` };
}

interface Retention {
  retention_days: number;
  cold_after_days: number | null;
  cold_tier: boolean;
  updated_at: string | null;
  last_purge: {
    ran_at: string;
    cutoff: string;
    expired: number;
    deleted: number;
    remaining: number;
    succeeded: boolean;
  } | null;
}

export async function retentionPage(api: Api, v: View, notice?: string, problem?: Page): Promise<Page> {
  const answer = await api.get<Retention>("/v1/audit/retention");
  if (!answer.ok) return failed("Audit → Retention", answer);
  const r = answer.body;
  const purge = r.last_purge;
  return {
    title: "Audit → Retention",
    status: problem?.status ?? 200,
    body: html`${notice ? html`<p role="status" class="notice">${notice}</p>` : ""}${problem?.body ?? ""}
<dl class="facts">
  <dt>Retention</dt><dd><strong class="retention-days">${r.retention_days}</strong> days${r.updated_at ? ` (set ${r.updated_at})` : " (the default: 7 years)"}</dd>
  <dt>Cold tier</dt><dd>${r.cold_tier ? `yes: indices move there after ${r.cold_after_days} days` : "none configured on this cluster"}</dd>
  <dt>Last purge</dt><dd>${
    purge
      ? html`${purge.ran_at}: ${purge.deleted} of ${purge.expired} expired events deleted (cut-off ${purge.cutoff})${purge.succeeded ? "" : html` — <span class="failure">did not complete; retried next period</span>`}`
      : "none yet"
  }</dd>
</dl>
${
  v.scopes.has("audit:admin")
    ? html`<form method="post" action="/console/retention" class="create">${csrfField(v)}
  <div class="field"><label for="retention_days">Keep events for (days, 1–3650)</label>
  <input id="retention_days" name="retention_days" value="${r.retention_days}" inputmode="numeric" required></div>
  <p class="muted">Lowering it makes older events unreadable at once; the purge deletes them within 24 h.</p>
  <div class="actions"><button type="submit">Save retention</button></div>
</form>`
    : html`<p class="muted">Changing retention needs the <code>audit:admin</code> scope.</p>`
}`,
  };
}

interface Checkpoint {
  size: number;
  root_hash: string;
  timestamp: string;
  note: string;
}
interface Destination {
  destination_id: string;
  name: string;
  type: string;
  format: string;
  paused: boolean;
  status: {
    state: string;
    lag_events: number;
    lag_seconds: number;
    delivered: number;
    failed: number;
    last_success_at: string | null;
    last_error: { at: string; message: string } | null;
  };
}

export async function statusPage(api: Api, v: View): Promise<Page> {
  const [checkpoint, destinations] = await Promise.all([
    api.get<Checkpoint>("/v1/audit/integrity/checkpoint"),
    v.scopes.has("audit:admin") ? api.get<{ entries: Destination[] }>("/v1/audit/destinations") : null,
  ]);
  return {
    title: "Integrity & delivery",
    status: 200,
    body: html`<section aria-labelledby="integrity"><h2 id="integrity">Tamper-evident log</h2>
${
  checkpoint.ok
    ? html`<dl class="facts"><dt>Events sealed</dt><dd class="num">${checkpoint.body.size}</dd>
  <dt>Root hash</dt><dd><code>${checkpoint.body.root_hash}</code></dd><dt>Signed</dt><dd>${checkpoint.body.timestamp}</dd></dl>
  <details><summary>Signed checkpoint (verify it offline with the published key)</summary><pre>${checkpoint.body.note}</pre></details>`
    : checkpoint.status === 404
      ? html`<p class="empty">No checkpoint yet: ${checkpoint.problem.detail ?? "nothing is sealed"}.</p>`
      : problemBox(checkpoint.problem)
}
</section>
<section aria-labelledby="delivery"><h2 id="delivery">Delivery destinations</h2>
${
  destinations === null
    ? html`<p class="muted">Destinations need the <code>audit:admin</code> scope.</p>`
    : !destinations.ok
      ? problemBox(destinations.problem)
      : destinations.body.entries.length === 0
        ? html`<p class="empty">No destinations.</p>`
        : html`<table><caption>Destinations and their delivery</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">State</th><th scope="col">Lag (events)</th><th scope="col">Lag (s)</th><th scope="col">Delivered</th><th scope="col">Failed attempts</th><th scope="col">Last success</th><th scope="col">Last error</th></tr></thead>
  <tbody>${destinations.body.entries.map(
    (
      d,
    ) => html`<tr><td>${d.name}</td><td>${d.type} (${d.format})</td><td>${d.paused ? "paused" : d.status.state}</td>
    <td class="num">${d.status.lag_events}</td><td class="num">${round(d.status.lag_seconds)}</td><td class="num">${d.status.delivered}</td>
    <td class="num">${d.status.failed}</td><td>${d.status.last_success_at ?? "—"}</td><td>${d.status.last_error?.message ?? "—"}</td></tr>`,
  )}</tbody></table>`
}
</section>`,
  };
}
