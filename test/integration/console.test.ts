/**
 * The console and /docs in a real browser: headless Chromium (Debian's package) driven by
 * playwright-core against the service on a real OpenSearch and a real S3 (moto). Each flow is
 * done as a person would (forms, links, buttons) and checked against what the API itself answers
 * for the same question. Every page is checked with axe-core (no serious or critical violation)
 * and for Content-Security-Policy violations, and kept as a screenshot in reports/console/.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fileSecrets } from "../../src/destinations/credentials.ts";
import { ExportWorker } from "../../src/features/exports/exports.worker.ts";
import { createLogger } from "../../src/logger.ts";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { type Destinations, startDestinations } from "../support/destinations.ts";
import { event, newTenant } from "../support/events.ts";
import { listen } from "../support/sse.ts";

const url = inject("opensearchUrl");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SHOTS = path.resolve("reports/console");
const AXE = await readFile(path.resolve("node_modules/axe-core/axe.min.js"), "utf8");

const tenant = newTenant("console");
const other = newTenant("console-other");
/** Text an attacker could put in an event, shown as text and never run. */
const HOSTILE = `prod/<img src=x onerror=alert(1)>/"><script>alert(2)</script>`;
const fixture = [
  ...Array.from({ length: 30 }, (_, i) =>
    event({
      action: i % 3 === 0 ? "write" : "read",
      path: `prod/payments/key-${i % 4}`,
      identity: { id: "user:leaver@acme.example", type: "user", session_id: `s${i}` },
      success: i % 10 !== 0,
      error_code: i % 10 === 0 ? "permission_denied" : null,
    }),
  ),
  ...Array.from({ length: 12 }, () => event()),
  event({ path: HOSTILE }),
  // A spreadsheet formula as a path: the checklist's CSV must not let it run.
  event({ path: "=SUM(1+1)/x", identity: { id: "user:leaver@acme.example", type: "user", session_id: "f" } }),
];
const otherFixture = Array.from({ length: 5 }, () => event({ path: "other-tenant/only" }));

let stores: Destinations;
let worker: ExportWorker;
let browser: Browser;
let served: ReturnType<typeof testApp> & { base: string };
let listening: Awaited<ReturnType<typeof listen>>;

/** What the API answers for the same question, as the oracle. */
const api = async (target: string, scope = "audit:read audit:export audit:admin") =>
  json(
    await served.app.request(target, {
      headers: { Authorization: `Bearer ${await tokenFor(tenant, scope)}` },
    }),
  );

/** A browser context kept to this origin: anything else it asks for is refused and recorded. */
async function context(): Promise<{ ctx: BrowserContext; offsite: string[]; cspViolations: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const offsite: string[] = [];
  const cspViolations: string[] = [];
  await ctx.route("**/*", (route) => {
    const target = route.request().url();
    if (target.startsWith(served.base)) return route.continue();
    offsite.push(target);
    return route.abort();
  });
  ctx.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  ctx.on("page", (p) => p.on("dialog", (d) => cspViolations.push(`a dialog opened: ${d.message()}`)));
  return { ctx, offsite, cspViolations };
}

async function signIn(ctx: BrowserContext, token: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${served.base}/console`);
  expect(new URL(page.url()).pathname).toBe("/console/sign-in");
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL("**/console/events");
  return page;
}

/** No serious or critical axe violation on the page as it is now; a screenshot kept. */
async function check(page: Page, name: string): Promise<void> {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    (globalThis as unknown as { axe: { run: (o: unknown) => Promise<any> } }).axe.run({
      resultTypes: ["violations"],
    }),
  );
  const bad = result.violations
    .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v: { id: string; nodes: { target: string[] }[] }) =>
        `${v.id}: ${v.nodes.map((n) => n.target).join(", ")}`,
    );
  expect(bad, name).toEqual([]);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  stores = await startDestinations();
  await stores.grant([tenant]);
  // The S3 emulator is allowlisted; the console's export form is tested against it.
  served = { ...testApp(url, { devTokens: true, endpointAllowlist: [stores.s3Endpoint] }), base: "" };
  await served.readiness.runOnce(served.client, await loadAssets());
  listening = await listen(served.app);
  served.base = listening.base;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  await ingestAs(served, tenant, fixture);
  await ingestAs(served, other, otherFixture);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await browser?.close();
  await served?.hub.close();
  await listening?.close();
  await served?.client.close();
  await stores?.stop();
});

describe("the console in a browser", () => {
  it("signs in with a token kept in an HttpOnly, SameSite=Strict cookie, and lists this tenant's events newest first", async () => {
    const { ctx, offsite, cspViolations } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read audit:export audit:admin"));
    const [cookie] = await ctx.cookies();
    expect(cookie).toMatchObject({
      name: "scaivault_console",
      httpOnly: true,
      sameSite: "Strict",
      path: "/console",
    });
    expect(
      await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
    ).toBe("");

    const expected = await api("/v1/audit/logs?limit=50");
    const ids = await page.locator("table.events tbody details summary").allTextContents();
    expect(ids).toEqual(expected.entries.map((e: { id: string }) => e.id));
    expect(ids).toHaveLength(fixture.length);
    // Another tenant's events are nowhere: the console asks the API with this token.
    expect(await page.content()).not.toContain("other-tenant/only");

    // The hostile event is shown as text: its markup neither renders nor runs.
    await expect.poll(() => page.getByText(HOSTILE, { exact: true }).count()).toBe(1);
    expect(await page.locator("img[src=x]").count()).toBe(0);

    // An event's detail is the whole event.
    const first = page.locator("table.events tbody details").first();
    await first.locator("summary").click();
    expect(JSON.parse((await first.locator("pre").textContent()) ?? "")).toEqual(expected.entries[0]);
    await check(page, "events");
    expect(cspViolations).toEqual([]);
    expect(offsite).toEqual([]);
    await ctx.close();
  });

  it("filters through a form reflected in the URL, pages with the cursor, and shows the API's errors with their fields", async () => {
    const { ctx, cspViolations } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read"));
    await page.getByLabel("Actions").selectOption(["write"]);
    await page.getByLabel("Per page").fill("4");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/action=write/);
    const shared = page.url();
    expect(new URL(shared).searchParams.get("limit")).toBe("4");

    const writes = fixture.filter((e) => e.action === "write").length;
    const seen: string[] = [];
    for (;;) {
      const ids = await page.locator("table.events tbody details summary").allTextContents();
      const actions = await page.locator("table.events tbody tr td:nth-child(2)").allTextContents();
      expect(new Set(actions)).toEqual(new Set(["write"]));
      seen.push(...ids);
      const older = page.getByRole("link", { name: "Older" });
      if ((await older.count()) === 0) break;
      await older.click();
      await page.waitForURL(/cursor=/);
    }
    expect(seen).toHaveLength(writes);
    expect(new Set(seen).size).toBe(writes);
    const all = await api("/v1/audit/logs?action=write&limit=1000");
    expect(seen).toEqual(all.entries.map((e: { id: string }) => e.id));

    // The shared URL shows the same first page to anyone with access.
    const again = await ctx.newPage();
    await again.goto(shared);
    expect(await again.locator("table.events tbody details summary").allTextContents()).toEqual(
      seen.slice(0, 4),
    );

    // A bad filter: the API's 400, with the offending fields named.
    const res = await page.goto(`${served.base}/console/events?limit=5000&from=yesterday`);
    expect(res?.status()).toBe(400);
    const alert = page.getByRole("alert");
    await expect
      .poll(() => alert.locator("code").allTextContents())
      .toEqual(expect.arrayContaining(["limit", "from"]));
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });

  it("shows a secret's history and an identity's offboarding checklist, exported as CSV", async () => {
    const { ctx, cspViolations } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read"));
    await page.getByRole("link", { name: "Trails" }).click();
    await page.getByLabel("Secret path").fill("prod/payments/key-1");
    await page.getByRole("button", { name: "Show trail" }).click();
    const secret = await api("/v1/audit/secrets/prod/payments/key-1?limit=50");
    expect(secret.entries.length).toBeGreaterThan(0);
    await expect
      .poll(() => page.locator("table.events tbody details summary").allTextContents())
      .toEqual(secret.entries.map((e: { id: string }) => e.id));
    await check(page, "trail-secret");

    await page.goto(
      `${served.base}/console/trails?identity=${encodeURIComponent("user:leaver@acme.example")}`,
    );
    const paths = await api(`/v1/audit/identities/${encodeURIComponent("user:leaver@acme.example")}/paths`);
    const rows = page.locator("table.checklist tbody tr");
    expect(await rows.locator("td.path").allTextContents()).toEqual(
      paths.paths.map((p: { path: string }) => p.path),
    );
    await rows.first().getByRole("checkbox").check();
    await check(page, "trail-identity");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: /Download the checklist as CSV/ }).click(),
    ]);
    const csv = parse(await readFile((await download.path()) as string), { columns: true }) as {
      path: string;
      actions: string;
    }[];
    const guarded = (p: string) => (p.startsWith("=") ? `'${p}` : p);
    expect(csv.map((r) => r.path)).toEqual(paths.paths.map((p: { path: string }) => guarded(p.path)));
    expect(csv.find((r) => r.path.includes("SUM"))?.path).toBe("'=SUM(1+1)/x");
    expect(csv[0]?.actions).toBe(
      Object.entries(paths.paths[0].actions)
        .map(([a, n]) => `${a}:${n}`)
        .join(" "),
    );
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });

  it("summarizes with a chart, the top lists and anomalies with the numbers behind each verdict", async () => {
    const { ctx, cspViolations } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read"));
    const window = "from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z";
    await page.goto(`${served.base}/console/summary?${window}`);
    const summary = await api(`/v1/audit/summary?${window}`);
    await page.locator(".chart canvas").first().waitFor();
    expect(await page.locator(".totals strong").textContent()).toBe(String(summary.total));
    const top = page.locator("table", { has: page.locator("caption", { hasText: "Top identities" }) });
    expect(await top.locator("tbody td:first-child").allTextContents()).toEqual(
      summary.top_identities.map((t: { identity_id: string }) => t.identity_id),
    );
    const buckets = page.locator("table", { has: page.locator("caption", { hasText: "Histogram buckets" }) });
    expect(await buckets.locator("tbody tr").count()).toBe(summary.histogram.buckets.length);
    const anomalies = await api(`/v1/audit/anomalies?${window}&group_by=identity_id`);
    const section = page.locator("section", { has: page.locator("h2", { hasText: "Anomalies" }) });
    expect(await section.textContent()).toContain(`${anomalies.evaluated}`);
    expect(await section.locator("tbody tr").count()).toBe(anomalies.anomalies.length);
    await check(page, "summary");
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });

  it("creates an export, follows its progress live and shows the manifest", async () => {
    worker = new ExportWorker({
      client: served.client,
      log: createLogger("silent"),
      secrets: fileSecrets(stores.secretsFile),
      settings: {
        concurrency: 1,
        pollIntervalMs: 100,
        leaseMs: 3000,
        maxAttempts: 3,
        pageSize: 10,
        pitKeepAlive: "2m",
        endpointAllowlist: stores.allowlist,
      },
    });
    const { ctx, cspViolations } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read audit:export"));
    await page.getByRole("link", { name: "Exports" }).click();
    const d = stores.destination("s3", "console/") as Record<string, string>;
    const fill = async (endpoint: string) => {
      await page.getByLabel("Bucket (S3, GCS)").fill(d.bucket as string);
      await page.getByLabel("Region (S3)").fill(d.region as string);
      await page.getByLabel("Prefix", { exact: true }).fill(d.prefix as string);
      await page.getByLabel("Endpoint (allowlisted)").fill(endpoint);
      await page.getByLabel("Credentials secret").fill(d.credentials_secret as string);
      await page.getByLabel("Compression").selectOption("none");
      await page.getByRole("button", { name: "Start export" }).click();
    };
    // An endpoint that is not allowlisted: the API's 400, naming the field, on the same page.
    await fill("http://127.0.0.1:1");
    await expect
      .poll(() => page.getByRole("alert").locator("code").allTextContents())
      .toContain("destination.endpoint");
    await fill(d.endpoint as string);
    await page.waitForURL(/\/console\/exports\/exp_/);
    const id = page.url().split("/").pop() as string;
    expect(await page.locator("#progress .status").textContent()).toBe("pending");
    // The page polls on its own (htmx): start the worker only now, and watch the same page change.
    worker.start();
    await page.locator("#progress table.manifest").waitFor({ timeout: 60_000 });
    const done = await api(`/v1/audit/exports/${id}`);
    expect(await page.locator("#progress .status").textContent()).toBe(done.status);
    expect(await page.locator("#progress .records").textContent()).toBe(String(fixture.length));
    expect(await page.locator("table.manifest tbody td:first-child").allTextContents()).toEqual(
      done.manifest.files.map((f: { uri: string }) => f.uri),
    );
    await check(page, "export");
    await page.getByRole("link", { name: "All exports" }).click();
    expect(await page.getByRole("link", { name: id }).count()).toBe(1);
    await check(page, "exports");
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });

  it("changes retention under Audit → Retention and reads it back from the API; a bad value names the field", async () => {
    const { ctx, cspViolations } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read audit:admin"));
    await page.getByRole("link", { name: "Audit → Retention" }).click();
    expect(await page.locator(".retention-days").textContent()).toBe(
      String((await api("/v1/audit/retention")).retention_days),
    );
    await check(page, "retention");

    await page.getByLabel(/Keep events for/).fill("400");
    await page.getByRole("button", { name: "Save retention" }).click();
    await page.waitForURL(/saved=1/);
    expect(await page.getByRole("status").textContent()).toContain("Retention saved");
    expect(await page.locator(".retention-days").textContent()).toBe("400");
    expect((await api("/v1/audit/retention")).retention_days).toBe(400);

    for (const bad of ["0", "3651", "12abc", "-5"]) {
      await page.getByLabel(/Keep events for/).fill(bad);
      await page.getByRole("button", { name: "Save retention" }).click();
      await expect
        .poll(() => page.getByRole("alert").locator("code").allTextContents())
        .toEqual(["retention_days"]);
    }
    expect((await api("/v1/audit/retention")).retention_days).toBe(400);
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });

  it("gives a read-only token no retention form, no exports and no destinations; the API refuses it anyway", async () => {
    const { ctx } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read"));
    await page.goto(`${served.base}/console/retention`);
    expect(await page.locator("form[action='/console/retention']").count()).toBe(0);
    expect(await page.textContent("main")).toContain("needs the audit:admin scope");
    await page.goto(`${served.base}/console/exports`);
    expect(await page.locator("form[action='/console/exports']").count()).toBe(0);
    await page.goto(`${served.base}/console/status`);
    expect(await page.textContent("main")).toContain("Destinations need the audit:admin scope");
    await check(page, "status-read-only");

    // A forged form post with this session's own CSRF token still meets the API's scope check.
    const csrf = await page.locator("input[name=_csrf]").first().inputValue();
    const res = await page.request.post(`${served.base}/console/retention`, {
      form: { _csrf: csrf, retention_days: "1" },
      headers: { Origin: served.base },
    });
    expect(res.status()).toBe(403);
    expect((await api("/v1/audit/retention")).retention_days).not.toBe(1);
    await ctx.close();
  });

  it("refuses a change without the session's CSRF token or from another origin", async () => {
    const { ctx } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read audit:admin"));
    const csrf = await page.locator("input[name=_csrf]").first().inputValue();
    const post = (form: Record<string, string>, origin: string) =>
      page.request.post(`${served.base}/console/retention`, { form, headers: { Origin: origin } });
    expect((await post({ retention_days: "7" }, served.base)).status()).toBe(403);
    expect((await post({ retention_days: "7", _csrf: "x".repeat(43) }, served.base)).status()).toBe(403);
    expect((await post({ retention_days: "7", _csrf: csrf }, "https://evil.example")).status()).toBe(403);
    // Another session's CSRF token is not this one's.
    const second = await context();
    const elsewhere = await signIn(
      second.ctx,
      await tokenFor(tenant, "audit:admin", "user:someone-else@example.com"),
    );
    const theirs = await elsewhere.locator("input[name=_csrf]").first().inputValue();
    expect(theirs).not.toBe(csrf);
    expect((await post({ retention_days: "7", _csrf: theirs }, served.base)).status()).toBe(403);
    await second.ctx.close();
    expect((await api("/v1/audit/retention")).retention_days).not.toBe(7);
    // The same post with the token and this origin goes through.
    expect((await post({ retention_days: "2557", _csrf: csrf }, served.base)).status()).toBe(200);
    expect((await api("/v1/audit/retention")).retention_days).toBe(2557);
    await ctx.close();
  });

  it("shows integrity and delivery status to an admin", async () => {
    const { ctx, cspViolations } = await context();
    const admin = await tokenFor(tenant, "audit:read audit:admin");
    const page = await signIn(ctx, admin);
    await page.getByRole("link", { name: "Integrity & delivery" }).click();
    expect(await page.locator("h2").allTextContents()).toEqual([
      "Tamper-evident log",
      "Delivery destinations",
    ]);
    // Nothing sealed in this app (it has no signing key): said plainly, not as an error.
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(await page.textContent("main")).toContain("No checkpoint yet");
    expect(await page.textContent("main")).toContain("No destinations.");

    const created = await served.app.request("/v1/audit/destinations", {
      method: "POST",
      headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "webhook",
        name: "SIEM <b>intake</b>",
        config: { url: `${stores.s3Endpoint}/hook` },
        credentials_secret: "secret/webhook",
      }),
    });
    expect(created.status).toBe(201);
    await page.reload();
    const [destination] = (await api("/v1/audit/destinations")).entries;
    const row = page.locator("table tbody tr");
    expect(await row.count()).toBe(1);
    const cells = await row.locator("td").allTextContents();
    expect(cells.slice(0, 4)).toEqual([
      "SIEM <b>intake</b>",
      "webhook (json)",
      destination.status.state,
      String(destination.status.lag_events),
    ]);
    await check(page, "status");
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });

  it("signs out: the cookie is gone and pages ask to sign in again; a refused token is said so", async () => {
    const { ctx } = await context();
    const page = await signIn(ctx, await tokenFor(tenant, "audit:read"));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/console/sign-in");
    expect(await ctx.cookies()).toEqual([]);
    await page.goto(`${served.base}/console/events`);
    expect(new URL(page.url()).pathname).toBe("/console/sign-in");
    await check(page, "sign-in");

    await page.getByLabel("Access token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    expect(await page.getByRole("alert").textContent()).toContain("That token was refused");
    expect(await ctx.cookies()).toEqual([]);
    await ctx.close();
  });

  it("signs in with a dev token in local mode, with the scopes chosen", async () => {
    const { ctx } = await context();
    const page = await ctx.newPage();
    await page.goto(`${served.base}/console/sign-in`);
    await page.getByLabel("Tenant").fill(other);
    await page.getByLabel("audit:admin").uncheck();
    await page.getByRole("button", { name: "Sign in with a dev token" }).click();
    await page.waitForURL("**/console/events");
    expect(await page.locator("table.events tbody tr").count()).toBe(otherFixture.length);
    expect(await page.textContent("header")).toContain(other);
    await page.goto(`${served.base}/console/retention`);
    expect(await page.locator("form[action='/console/retention']").count()).toBe(0);
    await ctx.close();
  });
});

describe("/docs in the same browser", () => {
  it("renders the API reference from the service's own assets, asking nothing of another origin", async () => {
    const { ctx, offsite, cspViolations } = await context();
    const page = await ctx.newPage();
    await page.goto(`${served.base}/docs`);
    const doc = await json(await served.app.request("/openapi.json"));
    const operations = Object.values(doc.paths as Record<string, object>).flatMap((ops) =>
      Object.keys(ops),
    ).length;
    await expect.poll(() => page.locator(".opblock").count(), { timeout: 20_000 }).toBe(operations);
    expect(await page.locator(".info .title").textContent()).toContain("ScaiVault Audit Log API");
    await page.screenshot({ path: path.join(SHOTS, "docs.png") });
    expect(offsite).toEqual([]);
    expect(cspViolations).toEqual([]);
    await ctx.close();
  });
});
