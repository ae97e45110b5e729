/**
 * @module features/console/route
 * The admin console at /console: server-rendered pages over the service's own API (console/api),
 * signed in with the caller's token (console/session). Every change is a POST carrying the CSRF
 * token and coming from this origin; every response has a strict CSP (scripts and styles from
 * this origin only, no inline code, no framing).
 */
import { stringify } from "csv-stringify/sync";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import type { AppEnv, Principal } from "../../http/env.ts";
import { type Answer, type Api, apiFor, type Fetch } from "./console.api.ts";
import { asset } from "./console.assets.ts";
import {
  eventsPage,
  exportFragment,
  exportPage,
  exportRequest,
  exportsPage,
  identityPaths,
  type Page,
  pick,
  retentionPage,
  statusPage,
  summaryPage,
  trailsPage,
} from "./console.pages.ts";
import { csrfMatches, csrfToken, endSession, sessionToken, startSession } from "./console.session.ts";
import { layout, problemBox, signInPage, type View } from "./console.views.ts";

export interface ConsoleDeps {
  /** The service's own request handler: the console's only way to data. */
  fetch: Fetch;
  verify: (token: string) => Promise<Principal>;
  /** Signs the CSRF tokens. */
  key: Buffer;
  /** Local mode only: mints a dev token for the sign-in page's dev form. */
  devToken?: (claims: { sub: string; tenant: string; scope: string }) => Promise<string>;
}

type Session = { principal: Principal; token: string; api: Api; csrf: string };
type ConsoleEnv = { Variables: { session: Session } };

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function registerConsole(app: Hono<AppEnv>, deps: ConsoleDeps): void {
  const ui = new Hono<ConsoleEnv>();

  ui.use(async (c, next) => {
    await next();
    c.res.headers.set("Content-Security-Policy", CSP);
    c.res.headers.set("X-Frame-Options", "DENY");
  });
  // A change must come from a page of this origin (Origin or Sec-Fetch-Site), sign-in included.
  ui.use(csrf());

  ui.get("/assets/:file", async (c) => {
    const file = await asset(c.req.param("file"));
    if (!file) return c.notFound();
    return c.body(new Uint8Array(file.body), 200, {
      "Content-Type": file.type,
      "Cache-Control": "public, max-age=3600",
    });
  });

  ui.get("/sign-in", (c) =>
    c.html(
      signInPage({
        devMode: !!deps.devToken,
        ...(c.req.query("expired") ? { error: "Your session ended: sign in again." } : {}),
      }),
    ),
  );
  ui.post("/sign-in", async (c) => {
    return signIn(c, field(await form(c), "token"));
  });
  ui.post("/sign-in/dev", async (c) => {
    if (!deps.devToken) return c.notFound();
    const body = await form(c);
    const scope = ([] as unknown[]).concat(body.scope ?? []).filter((s) => typeof s === "string");
    const tenant = field(body, "tenant");
    const token = await deps.devToken({
      sub: `user:console@${tenant || "dev"}`,
      tenant,
      scope: scope.join(" "),
    });
    return signIn(c, token);
  });

  async function signIn(c: Context, token: string) {
    const error = (message: string) => c.html(signInPage({ devMode: !!deps.devToken, error: message }), 401);
    if (!token) return error("Paste a token to sign in.");
    try {
      const principal = await deps.verify(token);
      startSession(c, token, principal.expiresAt);
      return c.redirect("/console/events", 303);
    } catch (err) {
      return error(`That token was refused: ${(err as Error).message}.`);
    }
  }

  ui.post("/sign-out", (c) => {
    endSession(c);
    return c.redirect("/console/sign-in", 303);
  });

  // Everything below needs a session whose token still verifies.
  ui.use(signedIn(deps));

  ui.get("/", (c) => c.redirect("/console/events", 303));
  ui.get("/events", async (c) => render(c, "events", await eventsPage(api(c), url(c))));
  ui.get("/trails", async (c) => render(c, "trails", await trailsPage(api(c), url(c))));
  ui.get("/trails/paths.csv", async (c) => {
    const identity = c.req.query("identity")?.trim();
    if (!identity) return render(c, "trails", missing("Trails", "identity"));
    const window = pick(url(c).searchParams, ["from", "to"]);
    const rows: string[][] = [];
    try {
      for await (const p of identityPaths(api(c), identity, window))
        rows.push([
          p.path,
          Object.entries(p.actions)
            .map(([a, n]) => `${a}:${n}`)
            .join(" "),
          p.first_at,
          p.last_at,
        ]);
    } catch (answer) {
      const failed = answer as Extract<Answer<unknown>, { ok: false }>;
      return render(c, "trails", {
        title: "Trails",
        status: failed.status,
        body: problemBox(failed.problem),
      });
    }
    // Spreadsheet formula injection: a cell an attacker chose is never read as a formula.
    const csv = stringify(rows, {
      header: true,
      columns: ["path", "actions", "first_at", "last_at"],
      escape_formulas: true,
    });
    return c.body(csv, 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="offboarding-paths.csv"`,
    });
  });
  ui.get("/summary", async (c) => render(c, "summary", await summaryPage(api(c), url(c))));
  ui.get("/exports", async (c) =>
    render(c, "exports", await exportsPage(api(c), url(c), view(c, "exports"))),
  );
  ui.post("/exports", async (c) => {
    const created = await api(c).send<{ export_id: string }>(
      "POST",
      "/v1/audit/exports",
      exportRequest(await form(c)),
    );
    if (created.ok) return c.redirect(`/console/exports/${encodeURIComponent(created.body.export_id)}`, 303);
    const problem = { title: "Exports", status: created.status, body: problemBox(created.problem) };
    return render(c, "exports", await exportsPage(api(c), url(c), view(c, "exports"), problem));
  });
  ui.get("/exports/:id", async (c) =>
    render(c, "exports", await exportPage(api(c), c.req.param("id"), view(c, "exports"))),
  );
  ui.get("/exports/:id/progress", async (c) => {
    const fragment = await exportFragment(api(c), c.req.param("id"), view(c, "exports"));
    return c.html(fragment.body, fragment.status as 200);
  });
  ui.post("/exports/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const cancelled = await api(c).send("DELETE", `/v1/audit/exports/${encodeURIComponent(id)}`);
    if (!cancelled.ok)
      return render(c, "exports", {
        title: "Export",
        status: cancelled.status,
        body: problemBox(cancelled.problem),
      });
    return c.redirect(`/console/exports/${encodeURIComponent(id)}`, 303);
  });
  ui.get("/retention", async (c) =>
    render(
      c,
      "retention",
      await retentionPage(
        api(c),
        view(c, "retention"),
        c.req.query("saved") ? "Retention saved." : undefined,
      ),
    ),
  );
  ui.post("/retention", async (c) => {
    const given = field(await form(c), "retention_days");
    // A number when it is one; otherwise the text as typed, so the API's 400 names the field.
    const days = /^\d+$/.test(given) ? Number(given) : given;
    const saved = await api(c).send("PUT", "/v1/audit/retention", { retention_days: days });
    if (saved.ok) return c.redirect("/console/retention?saved=1", 303);
    const problem = { title: "Audit → Retention", status: saved.status, body: problemBox(saved.problem) };
    return render(c, "retention", await retentionPage(api(c), view(c, "retention"), undefined, problem));
  });
  ui.get("/status", async (c) => render(c, "status", await statusPage(api(c), view(c, "status"))));

  app.route("/console", ui);
}

const api = (c: Context<ConsoleEnv>) => c.var.session.api;

type Form = Record<string, string | string[]>;
/** A form body, parsed once (files are not taken: no console form uploads any). */
const form = async (c: Context): Promise<Form> => {
  const body = await c.req.parseBody({ all: true });
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [
      k,
      Array.isArray(v) ? v.filter((x) => typeof x === "string") : typeof v === "string" ? v : "",
    ]),
  );
};
/** One field's text, trimmed ("" when absent or repeated oddly). */
const field = (body: Form, name: string): string => {
  const v = body[name];
  return (Array.isArray(v) ? v[0] : v)?.trim() ?? "";
};
const url = (c: Context) => new URL(c.req.url);

const view = (c: Context<ConsoleEnv>, page: View["page"]): View => {
  const { principal, csrf } = c.var.session;
  return { subject: principal.subject, tenant: principal.tenant, scopes: principal.scopes, csrf, page };
};

const render = (c: Context<ConsoleEnv>, page: View["page"], p: Page) =>
  c.html(layout(view(c, page), p.title, p.body), p.status as 200);

const missing = (title: string, field: string): Page => ({
  title,
  status: 400,
  body: problemBox({ status: 400, title: "Bad Request", errors: [{ field, message: "is required" }] }),
});

/**
 * The session's token, verified as the API verifies bearer tokens (an expired one ends the session),
 * and on a change the CSRF token that only a page rendered for this session carries.
 */
function signedIn(deps: ConsoleDeps): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    const token = sessionToken(c);
    if (!token) return c.redirect("/console/sign-in", 303);
    let principal: Principal;
    try {
      principal = await deps.verify(token);
    } catch {
      endSession(c);
      return c.redirect("/console/sign-in?expired=1", 303);
    }
    const csrf = csrfToken(deps.key, token);
    if (c.req.method === "POST") {
      if (!csrfMatches(deps.key, token, (await form(c))._csrf))
        return c.html(
          problemBox({
            status: 403,
            title: "Forbidden",
            detail: "the form's CSRF token is missing or wrong: reload the page",
          }),
          403,
        );
    }
    c.set("session", { principal, token, api: apiFor(deps.fetch, token), csrf });
    await next();
  };
}
