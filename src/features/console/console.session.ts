/**
 * @module features/console/session
 * The console's session is the caller's own token, kept in an HttpOnly, SameSite=Strict cookie
 * scoped to /console (so scripts cannot read it and the API never receives it), and verified on
 * every request exactly as a bearer token is. Forms that change something carry a CSRF token: an
 * HMAC of the session token under the service's key, so it needs no server-side state and dies
 * with the session.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";

const COOKIE = "scaivault_console";
const PATH = "/console";

/** Secure whenever the browser reached us over TLS (directly or through a TLS-terminating proxy). */
const overTls = (c: Context) =>
  new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";

export const sessionToken = (c: Context): string | undefined => getCookie(c, COOKIE) || undefined;

/** Keeps `token` until it expires (a browser session when the token does not say). */
export function startSession(c: Context, token: string, expiresAt?: number): void {
  const maxAge = expiresAt ? Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)) : undefined;
  setCookie(c, COOKIE, token, {
    path: PATH,
    httpOnly: true,
    sameSite: "Strict",
    secure: overTls(c),
    ...(maxAge ? { maxAge } : {}),
  });
}

export function endSession(c: Context): void {
  deleteCookie(c, COOKIE, { path: PATH, httpOnly: true, sameSite: "Strict", secure: overTls(c) });
}

export const csrfToken = (key: Buffer, session: string): string =>
  createHmac("sha256", key).update(`scaivault-console-csrf\n${session}`).digest("base64url");

export function csrfMatches(key: Buffer, session: string, given: unknown): boolean {
  if (typeof given !== "string") return false;
  const want = Buffer.from(csrfToken(key, session));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}
