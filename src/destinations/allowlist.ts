/**
 * @module destinations/allowlist
 * Which hosts the service may send audit data to (export stores, delivery receivers). The providers' own endpoints are always allowed; any
 * other origin (an S3-compatible store, an emulator) must be listed in EXPORT_ENDPOINT_ALLOWLIST,
 * compared as scheme + host + port, and a URL with user-info is refused outright.
 */

/** `https://host[:port]` of a URL, or undefined when it is not an http(s) URL without user-info. */
export function originOf(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
  if (u.username !== "" || u.password !== "") return undefined;
  return u.origin;
}

/** Parses the allowlist (comma- or space-separated origins); a malformed entry is an error. */
export function parseAllowlist(
  raw: string,
): { ok: true; origins: string[] } | { ok: false; message: string } {
  const origins: string[] = [];
  for (const entry of raw.split(/[\s,]+/).filter(Boolean)) {
    const origin = originOf(entry);
    if (!origin || new URL(entry).pathname.replace(/\/$/, "") !== "")
      return { ok: false, message: `'${entry}' is not an origin such as https://s3.internal.example:9000` };
    origins.push(origin);
  }
  return { ok: true, origins };
}

const PROVIDER_HOSTS = [/\.amazonaws\.com$/, /^storage\.googleapis\.com$/, /\.blob\.core\.windows\.net$/];

/** Why `url` may not be used, or undefined when it may. */
export function endpointRefusal(url: string, allowlist: readonly string[]): string | undefined {
  const origin = originOf(url);
  if (!origin) return "must be an http(s) URL without user-info";
  if (allowlist.includes(origin)) return undefined;
  const u = new URL(url);
  if (u.protocol === "https:" && u.port === "" && PROVIDER_HOSTS.some((h) => h.test(u.hostname)))
    return undefined;
  return `origin ${origin} is not in EXPORT_ENDPOINT_ALLOWLIST`;
}
