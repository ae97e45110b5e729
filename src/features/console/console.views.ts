/**
 * @module features/console/views
 * The console's pages, server-rendered with Hono's `html` templates: every interpolated value is
 * escaped, so an event's attacker-chosen text (a path, a user agent, a context value) is shown as
 * text and never becomes markup. No inline script or style: the CSP allows neither.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { ACTIONS, IDENTITY_TYPES } from "../../events/event.schema.ts";
import { FILTER_PARAMS, type FilterParam } from "../../filters/filters.ts";
import type { Problem } from "./console.api.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** Who is signed in, for the header and for which forms a page offers. */
export interface View {
  subject: string;
  tenant: string;
  scopes: ReadonlySet<string>;
  csrf: string;
  page: keyof typeof NAV;
}

const NAV = {
  events: ["/console/events", "Events"],
  trails: ["/console/trails", "Trails"],
  summary: ["/console/summary", "Summary"],
  exports: ["/console/exports", "Exports"],
  retention: ["/console/retention", "Audit → Retention"],
  status: ["/console/status", "Integrity & delivery"],
} as const;

const head = (title: string) => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0}'>
<title>${title} · ScaiVault Audit</title>
<link rel="stylesheet" href="/console/assets/console.css">
<link rel="stylesheet" href="/console/assets/uPlot.min.css">
<script src="/console/assets/htmx.min.js" defer></script>
<script src="/console/assets/uPlot.min.js" defer></script>
<script src="/console/assets/console.js" defer></script>
</head>`;

export const csrfField = (v: View) => html`<input type="hidden" name="_csrf" value="${v.csrf}">`;

export function layout(v: View, title: string, body: Html): Html {
  return html`${head(title)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">ScaiVault Audit</span>
  <nav aria-label="Console">
    <ul>${Object.entries(NAV).map(
      ([key, [href, label]]) =>
        html`<li><a href="${href}"${key === v.page ? html` aria-current="page"` : ""}>${label}</a></li>`,
    )}</ul>
  </nav>
  <form class="who" method="post" action="/console/sign-out">
    <span>${v.subject} · tenant <strong>${v.tenant}</strong></span>
    ${csrfField(v)}<button type="submit">Sign out</button>
  </form>
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export function signInPage(opts: { error?: string; devMode: boolean; status?: number }): Html {
  return html`${head("Sign in")}
<body class="sign-in">
<main id="main">
<h1>ScaiVault Audit — sign in</h1>
${opts.error ? html`<p role="alert" class="problem">${opts.error}</p>` : ""}
<form method="post" action="/console/sign-in">
  <label for="token">Access token (a ScaiVault JWT)</label>
  <textarea id="token" name="token" rows="4" required autocomplete="off" spellcheck="false"></textarea>
  <button type="submit">Sign in</button>
</form>
${
  opts.devMode
    ? html`<form method="post" action="/console/sign-in/dev" class="dev">
  <h2>Local mode: a dev token</h2>
  <label for="dev-tenant">Tenant</label>
  <input id="dev-tenant" name="tenant" value="acme" required>
  <fieldset><legend>Scopes</legend>
  ${["audit:read", "audit:write", "audit:export", "audit:admin"].map(
    (s) =>
      html`<label><input type="checkbox" name="scope" value="${s}"${s === "audit:write" ? "" : " checked"}> ${s}</label>`,
  )}
  </fieldset>
  <button type="submit">Sign in with a dev token</button>
</form>`
    : ""
}
</main>
</body>
</html>`;
}

/** An API error as the API gave it: title, detail, each offending field, the request id. */
export const problemBox = (p: Problem) => html`<div role="alert" class="problem">
  <p><strong>${p.title}</strong> (${p.status})${p.detail ? html`: ${p.detail}` : ""}</p>
  ${p.errors?.length ? html`<ul>${p.errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}</ul>` : ""}
  ${p.request_id ? html`<p class="muted">request ${p.request_id}</p>` : ""}
</div>`;

/** A link to `base` with `query`, a parameter replaced. */
export function withParam(base: string, query: URLSearchParams, name: string, value: string | null): string {
  const next = new URLSearchParams(query);
  next.delete(name);
  if (value !== null) next.set(name, value);
  return next.size ? `${base}?${next}` : base;
}

const input = (q: URLSearchParams, name: string, label: string, hint = "") =>
  html`<div class="field"><label for="f-${name}">${label}</label>
  <input id="f-${name}" name="${name}" value="${q.get(name) ?? ""}"${hint ? html` placeholder="${hint}"` : ""}></div>`;

const select = (
  q: URLSearchParams,
  name: string,
  label: string,
  options: readonly string[],
  multiple = false,
) => {
  const chosen = new Set(q.getAll(name).flatMap((v) => v.split(",")));
  return html`<div class="field"><label for="f-${name}">${label}</label>
  <select id="f-${name}" name="${name}"${multiple ? html` multiple size="4"` : ""}>
    ${multiple ? "" : html`<option value="">any</option>`}
    ${options.map((o) => html`<option${chosen.has(o) ? html` selected` : ""}>${o}</option>`)}
  </select></div>`;
};

/** The /logs filters (all but limit and cursor), shared by the events, trails and summary forms. */
export function filterFields(q: URLSearchParams, omit: readonly FilterParam[] = []): Html {
  // Keyed by the filter language's own names: a filter added there must get its field here.
  const fields: Record<FilterParam, Html> = {
    from: input(q, "from", "From", "now-24h or 2026-11-26T14:25:00Z"),
    to: input(q, "to", "To", "now"),
    action: select(q, "action", "Actions", ACTIONS, true),
    identity_id: input(q, "identity_id", "Identity", "user:alice@example.com"),
    identity_type: select(q, "identity_type", "Identity type", IDENTITY_TYPES),
    path_prefix: input(q, "path_prefix", "Path prefix", "prod/payments"),
    success: select(q, "success", "Outcome (success)", ["true", "false"]),
    source_ip: input(q, "source_ip", "Source IP or CIDR", "10.0.0.0/8"),
    request_id: input(q, "request_id", "Request id"),
    q: input(q, "q", "Free text"),
  };
  return html`${FILTER_PARAMS.filter((name) => !omit.includes(name)).map((name) => fields[name])}`;
}

export interface AuditEvent {
  id: string;
  timestamp: string;
  action: string;
  path: string;
  identity: { id: string; type: string };
  source_ip: string;
  success: boolean;
  error_code: string | null;
}

/** Events newest first; each row opens to the whole event. */
export function eventTable(entries: AuditEvent[], caption: string): Html {
  if (entries.length === 0) return html`<p class="empty">No events match.</p>`;
  return html`<table class="events">
  <caption>${caption}</caption>
  <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Action</th><th scope="col">Identity</th><th scope="col">Path</th><th scope="col">Outcome</th><th scope="col">Source IP</th><th scope="col">Event</th></tr></thead>
  <tbody>${entries.map(
    (e) => html`<tr>
    <td><time datetime="${e.timestamp}">${e.timestamp.replace("T", " ").replace("Z", "")}</time></td>
    <td>${e.action}</td><td>${e.identity.id}</td><td class="path">${e.path}</td>
    <td>${e.success ? "success" : html`<span class="failure">failure${e.error_code ? ` (${e.error_code})` : ""}</span>`}</td>
    <td>${e.source_ip}</td>
    <td><details><summary>${e.id}</summary><pre>${JSON.stringify(e, null, 2)}</pre></details></td>
  </tr>`,
  )}</tbody>
</table>`;
}

/** "Newest" and "Older" links for a cursor-paged list. */
export const pager = (base: string, q: URLSearchParams, next: string | null) =>
  html`<nav class="pager" aria-label="Pages">
  ${q.has("cursor") ? html`<a href="${withParam(base, q, "cursor", null)}">Newest</a>` : ""}
  ${next ? html`<a href="${withParam(base, q, "cursor", next)}" rel="next">Older</a>` : html`<span class="muted">No older events</span>`}
</nav>`;

/** A small key/value table (counts by action, outcome, …). */
export const countTable = (caption: string, counts: Record<string, number>, keyName = "Key") =>
  html`<table class="counts"><caption>${caption}</caption>
  <thead><tr><th scope="col">${keyName}</th><th scope="col">Events</th></tr></thead>
  <tbody>${Object.entries(counts).map(([k, n]) => html`<tr><td>${k}</td><td class="num">${n}</td></tr>`)}</tbody>
</table>`;
