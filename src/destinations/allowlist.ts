/**
 * @module destinations/allowlist
 * Which hosts the service may send audit data to (export stores, delivery receivers). The
 * providers' own endpoints are always allowed; any other origin (an S3-compatible store, an
 * emulator, a SIEM's webhook) must be listed in EXPORT_ENDPOINT_ALLOWLIST, compared as scheme +
 * host + port, and a URL with user-info is refused outright. Receivers that do not speak HTTP are
 * listed by a scheme of their own with an explicit port: `tls://siem.internal:6514` (syslog over
 * TLS), `kafka://broker-1.internal:9093` (a Kafka broker).
 */

const HTTP = ["http:", "https:"] as const;

/**
 * A host name or an IPv4 address (labels of letters, digits and inner hyphens) and a port from 1 to
 * 65535: what a `tls://` or `kafka://` receiver is written as (an IPv6 receiver goes by a DNS name).
 * Patterns JSON Schema can state, so the API document says exactly what is accepted.
 */
export const HOST =
  "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*";
export const PORT =
  "(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})";
/** Schemes without a default port: the port must be written. */
const STREAMS = ["tls:", "kafka:"] as const;
export type Scheme = (typeof HTTP)[number] | (typeof STREAMS)[number];

/**
 * `scheme://host:port` of a URL, or undefined when it is not a URL of one of `schemes` without
 * user-info (and, for a stream scheme, with a port).
 */
export function originOf(url: string, schemes: readonly Scheme[] = HTTP): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!(schemes as readonly string[]).includes(u.protocol)) return undefined;
  if (u.username !== "" || u.password !== "") return undefined;
  if ((HTTP as readonly string[]).includes(u.protocol)) return u.origin;
  // Not a special scheme: URL gives no origin, no default port, and keeps the host's case.
  return u.hostname !== "" && u.port !== "" ? `${u.protocol}//${u.host.toLowerCase()}` : undefined;
}

/** Parses the allowlist (comma- or space-separated origins); a malformed entry is an error. */
export function parseAllowlist(
  raw: string,
): { ok: true; origins: string[] } | { ok: false; message: string } {
  const origins: string[] = [];
  for (const entry of raw.split(/[\s,]+/).filter(Boolean)) {
    const origin = originOf(entry, [...HTTP, ...STREAMS]);
    if (!origin || new URL(entry).pathname.replace(/\/$/, "") !== "")
      return {
        ok: false,
        message: `'${entry}' is not an origin such as https://s3.internal.example:9000, tls://siem.internal:6514 or kafka://broker.internal:9093`,
      };
    origins.push(origin);
  }
  return { ok: true, origins };
}

const PROVIDER_HOSTS = [/\.amazonaws\.com$/, /^storage\.googleapis\.com$/, /\.blob\.core\.windows\.net$/];

/** Why `url` may not be used, or undefined when it may. */
export function endpointRefusal(
  url: string,
  allowlist: readonly string[],
  schemes: readonly Scheme[] = HTTP,
): string | undefined {
  const origin = originOf(url, schemes);
  if (!origin)
    return schemes.some((s) => (STREAMS as readonly string[]).includes(s))
      ? `must be ${schemes.map((s) => `${s}//host:port`).join(" or ")} without user-info`
      : "must be an http(s) URL without user-info";
  if (allowlist.includes(origin)) return undefined;
  const u = new URL(url);
  if (u.protocol === "https:" && u.port === "" && PROVIDER_HOSTS.some((h) => h.test(u.hostname)))
    return undefined;
  return `origin ${origin} is not in EXPORT_ENDPOINT_ALLOWLIST`;
}
