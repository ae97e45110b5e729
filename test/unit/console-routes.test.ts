/**
 * Every console route, read from the app itself (a route added tomorrow is covered): without a
 * session it serves nothing but a redirect to sign-in, a session whose token no longer verifies
 * is ended, a change without the session's CSRF token is refused before anything is asked of the
 * API, and every response carries the console's strict CSP. No OpenSearch is needed for any of it.
 */
import { describe, expect, it } from "vitest";
import { csrfToken } from "../../src/features/console/console.session.ts";
import { DEAD_OPENSEARCH, TEST_SECRET, testApp, tokenFor } from "../support/app.ts";

const { app } = testApp(DEAD_OPENSEARCH);
/** Open to anyone: the sign-in page and form, sign-out, and the static assets. */
const OPEN = new Set([
  "GET /console/sign-in",
  "POST /console/sign-in",
  "POST /console/sign-out",
  "GET /console/assets/:file",
]);

const routes = [
  ...new Set(
    app.routes
      .filter((r) => r.path.startsWith("/console") && r.method !== "ALL")
      .map((r) => `${r.method} ${r.path}`),
  ),
].filter((r) => !OPEN.has(r) && r !== "POST /console/sign-in/dev");

const target = (route: string) =>
  route.split(" ")[1]?.replace(/:(\w+)/g, "exp_01JDQ3Z8K4W6Y2N9R5T7V1X3B8") ?? "";
const send = (route: string, headers: Record<string, string> = {}, body?: string) => {
  const method = route.split(" ")[0] as string;
  return app.request(target(route), {
    method,
    headers: {
      Origin: "http://localhost",
      ...(method === "POST" ? { "Content-Type": "application/x-www-form-urlencoded" } : {}),
      ...headers,
    },
    ...(method === "POST" ? { body: body ?? "" } : {}),
  });
};

describe("every console route needs a session", () => {
  it("finds the console's pages and forms", () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    expect(routes).toContain("POST /console/retention");
  });

  it.each(routes)("%s without a session: a redirect to sign-in, with the CSP", async (route) => {
    const res = await send(route);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/sign-in");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  it.each(routes)("%s with a token that no longer verifies: the session ends", async (route) => {
    const res = await send(route, { Cookie: "scaivault_console=not.a.token" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/sign-in?expired=1");
    expect(res.headers.get("set-cookie")).toMatch(/^scaivault_console=;.*Max-Age=0/);
  });

  it.each(routes.filter((r) => r.startsWith("POST")))(
    "%s without the session's CSRF token: 403, the API never asked",
    async (route) => {
      const token = await tokenFor("console-unit");
      const cookie = { Cookie: `scaivault_console=${token}` };
      for (const body of ["", "_csrf=wrong", `_csrf=${csrfToken(Buffer.from(TEST_SECRET), `${token}x`)}`]) {
        const res = await send(route, cookie, body);
        expect(res.status).toBe(403);
        expect(await res.text()).toContain("CSRF");
      }
    },
  );

  it("refuses a form posted from another origin, sign-in included", async () => {
    for (const route of ["POST /console/sign-in", "POST /console/retention"]) {
      const res = await send(route, { Origin: "https://evil.example" }, "token=x");
      expect(res.status).toBe(403);
    }
  });

  it("serves only the listed assets, from this origin", async () => {
    for (const name of ["console.css", "console.js", "htmx.min.js", "uPlot.min.js", "uPlot.min.css"]) {
      const res = await app.request(`/console/assets/${name}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    for (const name of ["..%2Fconsole.route.ts", "package.json", "%2Fetc%2Fpasswd"])
      expect((await app.request(`/console/assets/${name}`)).status).toBe(404);
  });
});
