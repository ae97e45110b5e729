/**
 * @module filters/match
 * The `/logs` filters evaluated in memory, for events the shared feed has already read: the same
 * answers as `filterClauses` gives in OpenSearch (an integration test compares the two on a
 * varied fixture). Pure.
 */
import { BlockList, isIPv6 } from "node:net";
import { searchText } from "../events/event.mapping.ts";
import type { AuditEvent } from "../events/event.schema.ts";
import type { Filters } from "./filters.ts";

/**
 * What the `scaivault_text` analyzer makes of a text (index-templates/audit-events.json): split on
 * anything that is not a letter or digit, then lower-cased.
 */
export function textTokens(text: string): string[] {
  return text
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .map((t) => t.toLowerCase());
}

const tokensOf = new WeakMap<AuditEvent, Set<string>>();
function eventTokens(e: AuditEvent): Set<string> {
  const known = tokensOf.get(e);
  if (known) return known;
  const t = new Set(textTokens(searchText(e)));
  tokensOf.set(e, t);
  return t;
}

/** An ip field's term query: one address, or every address in a CIDR block. */
function addressMatcher(spec: string): (ip: string) => boolean {
  const [net, bits] = spec.split("/") as [string, string | undefined];
  const list = new BlockList();
  if (bits === undefined) list.addAddress(net, isIPv6(net) ? "ipv6" : "ipv4");
  else list.addSubnet(net, Number(bits), isIPv6(net) ? "ipv6" : "ipv4");
  return (ip) => list.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
}

/** Compiles validated filters into a predicate over events in the API form. */
export function eventFilter(f: Filters): (e: AuditEvent) => boolean {
  const checks: ((e: AuditEvent) => boolean)[] = [];
  const { from, to, actions, identityId, identityType, path, pathPrefix, success, sourceIp, requestId, q } =
    f;
  if (from) checks.push((e) => e.timestamp >= from);
  if (to) checks.push((e) => e.timestamp < to);
  if (actions) checks.push((e) => actions.includes(e.action));
  if (identityId !== undefined) checks.push((e) => e.identity.id === identityId);
  if (identityType) checks.push((e) => e.identity.type === identityType);
  if (path !== undefined) checks.push((e) => e.path === path);
  if (pathPrefix !== undefined)
    checks.push((e) => e.path === pathPrefix || e.path.startsWith(`${pathPrefix}/`));
  if (success !== undefined) checks.push((e) => e.success === success);
  if (sourceIp) {
    const inBlock = addressMatcher(sourceIp);
    checks.push((e) => e.source_ip !== null && inBlock(e.source_ip));
  }
  if (requestId !== undefined) checks.push((e) => e.request.id === requestId);
  if (q !== undefined) {
    // A match query whose text analyzes to nothing matches nothing (zero_terms_query: none).
    const wanted = [...new Set(textTokens(q))];
    checks.push((e) => wanted.length > 0 && wanted.every((t) => eventTokens(e).has(t)));
  }
  return (e) => checks.every((check) => check(e));
}
