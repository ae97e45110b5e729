import { BlockList, isIPv6 } from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadAssets } from "../../src/opensearch/bootstrap.ts";
import { ingestAs, json, testApp, tokenFor } from "../support/app.ts";
import { event, newTenant } from "../support/events.ts";
import { type Fixture, newestFirst, queryFixture } from "../support/fixture.ts";

const harness = testApp(inject("opensearchUrl"));
const { app, client, readiness } = harness;
const tenant = newTenant("query");
const fixture = queryFixture();
let token = "";

const ingest = (t: string, events: unknown[]) => ingestAs(harness, t, events);

beforeAll(async () => {
  await readiness.runOnce(client, await loadAssets());
  await ingest(tenant, fixture);
  token = await tokenFor(tenant, "audit:read");
});
afterAll(() => client.close());

const get = (path: string, t = token) => app.request(path, { headers: { Authorization: `Bearer ${t}` } });

/** Follows next_cursor to the end and returns every entry, with the number of pages. */
async function all(path: string, t = token): Promise<{ entries: Fixture[]; pages: number }> {
  const entries: Fixture[] = [];
  let url = path;
  for (let pages = 1; ; pages++) {
    const res = await get(url, t);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    entries.push(...(body.entries ?? body.paths));
    if (!body.next_cursor) return { entries, pages };
    url = `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(body.next_cursor)}`;
  }
}

const ids = (events: Fixture[]) => events.map((e) => e.id);
const inCidr = (cidr: string) => {
  const [net, bits] = cidr.split("/") as [string, string];
  const list = new BlockList();
  list.addSubnet(net, Number(bits), isIPv6(net) ? "ipv6" : "ipv4");
  return (ip: string) => list.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
};

describe("GET /v1/audit/logs", () => {
  it("returns every event newest first (timestamp, then id), in the API form", async () => {
    const { entries } = await all("/v1/audit/logs?limit=1000");
    expect(ids(entries)).toEqual(ids(newestFirst(fixture)));
    const sent = fixture.find((e) => e.id === "fx-003") as Fixture;
    expect(entries.find((e) => e.id === "fx-003")).toEqual({ ...sent, identity: { ...sent.identity } });
  });

  it.each<[string, (e: Fixture) => boolean]>([
    ["action=read", (e) => e.action === "read"],
    ["action=read&action=rotate", (e) => ["read", "rotate"].includes(e.action)],
    ["action=rotate,read", (e) => ["read", "rotate"].includes(e.action)],
    ["identity_id=user:ana@acme.example", (e) => e.identity.id === "user:ana@acme.example"],
    ["identity_type=service_account", (e) => e.identity.type === "service_account"],
    ["path_prefix=prod/db", (e) => e.path === "prod/db" || e.path.startsWith("prod/db/")],
    ["path_prefix=prod/db/", (e) => e.path === "prod/db" || e.path.startsWith("prod/db/")],
    ["path_prefix=prod", (e) => e.path.startsWith("prod/")],
    ["success=false", (e) => !e.success],
    ["success=true&action=read", (e) => e.success && e.action === "read"],
    ["source_ip=10.1.2.3", (e) => e.source_ip === "10.1.2.3"],
    ["source_ip=10.0.0.0/8", (e) => inCidr("10.0.0.0/8")(e.source_ip)],
    ["source_ip=2001:db8::/32", (e) => inCidr("2001:db8::/32")(e.source_ip)],
    ["source_ip=2001:db8:1::/48", (e) => inCidr("2001:db8:1::/48")(e.source_ip)],
    ["request_id=req_7", (e) => e.request.id === "req_7"],
    [
      "from=2026-11-26T14:10:00Z&to=2026-11-26T14:20:00Z",
      (e) => e.timestamp >= "2026-11-26T14:10:00.000000Z" && e.timestamp < "2026-11-26T14:20:00.000000Z",
    ],
    [
      "from=2026-11-26T15:10:00%2B01:00&to=2026-11-26T15:20:00%2B01:00",
      (e) => e.timestamp >= "2026-11-26T14:10:00.000000Z" && e.timestamp < "2026-11-26T14:20:00.000000Z",
    ],
    [
      "action=read&identity_type=user&success=true&path_prefix=prod",
      (e) => e.action === "read" && e.identity.type === "user" && e.success && e.path.startsWith("prod/"),
    ],
    ["q=compromise_suspected", (e) => e.context.rotation_reason === "compromise_suspected"],
    ["q=INC-4242", (e) => e.context.ticket === "INC-4242"],
    ["q=permission_denied", (e) => e.error_code === "permission_denied"],
    ["q=terraform", (e) => e.user_agent.startsWith("terraform")],
    ["q=billing", (e) => e.identity.id.includes("billing")],
    ["q=payments api", (e) => e.path === "prod/payments/api-key"],
  ])("%s matches exactly the events it names", async (qs, predicate) => {
    const { entries } = await all(`/v1/audit/logs?${qs}&limit=1000`);
    const expected = ids(newestFirst(fixture.filter(predicate)));
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(entries)).toEqual(expected);
  });

  it("respects microsecond boundaries: from inclusive, to exclusive", async () => {
    const { entries } = await all("/v1/audit/logs?from=2026-11-26T15:25:00.000001Z&to=2026-11-26T15:35:00Z");
    expect(ids(entries)).toEqual(["b-before-to", "b-at-from"]);
  });

  it("pages in small pages covering the result exactly once, ties on one timestamp ordered by id", async () => {
    const whole = ids(newestFirst(fixture));
    const { entries, pages } = await all("/v1/audit/logs?limit=4");
    expect(ids(entries)).toEqual(whole);
    expect(pages).toBe(Math.ceil(whole.length / 4));
    const ties = await all("/v1/audit/logs?limit=1&from=2026-11-26T15:40:00Z&to=2026-11-26T15:41:00Z");
    expect(ids(ties.entries)).toEqual(["tie-c", "tie-b", "tie-a"]);
  });

  it("lets limit change between pages, and returns next_cursor null on the last page", async () => {
    const first = await json(await get("/v1/audit/logs?limit=10&action=read"));
    const rest = await json(
      await get(`/v1/audit/logs?limit=1000&action=read&cursor=${encodeURIComponent(first.next_cursor)}`),
    );
    expect(rest.next_cursor).toBeNull();
    expect([...ids(first.entries), ...ids(rest.entries)]).toEqual(
      ids(newestFirst(fixture.filter((e) => e.action === "read"))),
    );
  });

  it("stays stable while another client ingests: no duplicate, no gap", async () => {
    const t = newTenant("stable");
    const base = Array.from({ length: 30 }, (_, i) =>
      event({
        id: `s-${String(i).padStart(2, "0")}`,
        timestamp: `2026-11-26T10:${String(i).padStart(2, "0")}:00Z`,
      }),
    );
    await ingest(t, base);
    const reader = await tokenFor(t, "audit:read");
    const seen: string[] = [];
    let url = "/v1/audit/logs?limit=7";
    for (let page = 0; ; page++) {
      const body = await json(await get(url, reader));
      seen.push(...ids(body.entries));
      // Meanwhile: newer events, and late ones older than everything.
      await ingest(t, [
        event({ id: `new-${page}`, timestamp: `2026-11-26T11:${String(page).padStart(2, "0")}:00Z` }),
        event({ id: `late-${page}`, timestamp: `2026-11-25T09:${String(page).padStart(2, "0")}:00Z` }),
      ]);
      if (!body.next_cursor) break;
      url = `/v1/audit/logs?limit=7&cursor=${encodeURIComponent(body.next_cursor)}`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    const original = ids(newestFirst(base));
    expect(seen.filter((id) => id.startsWith("s-"))).toEqual(original);
    expect(seen.some((id) => id.startsWith("new-"))).toBe(false); // newer than page one: not in this walk
  });

  it("answers 400 for a cursor used with other filters, and for a forged one", async () => {
    const first = await json(await get("/v1/audit/logs?limit=2&action=read"));
    const other = await get(
      `/v1/audit/logs?limit=2&action=write&cursor=${encodeURIComponent(first.next_cursor)}`,
    );
    expect(other.status).toBe(400);
    expect((await json(other)).errors[0].field).toBe("cursor");
    const forged = await get("/v1/audit/logs?cursor=eyJ0IjoieCJ9.AAAA");
    expect(forged.status).toBe(400);
  });

  it("answers 400 problem+json naming each bad parameter", async () => {
    const res = await get("/v1/audit/logs?limit=5000&sort=asc&from=now&to=now-1d");
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await json(res)).errors.map((e: { field: string }) => e.field).sort()).toEqual([
      "from",
      "limit",
      "sort",
    ]);
  });

  it("needs audit:read", async () => {
    expect((await get("/v1/audit/logs", await tokenFor(tenant, "audit:write"))).status).toBe(403);
    expect((await app.request("/v1/audit/logs")).status).toBe(401);
  });
});

describe("trails", () => {
  it("secret trail: exactly that path (with slashes), with the other filters", async () => {
    const { entries } = await all("/v1/audit/secrets/prod/payments/api-key?limit=3");
    expect(ids(entries)).toEqual(ids(newestFirst(fixture.filter((e) => e.path === "prod/payments/api-key"))));
    const body = await json(await get("/v1/audit/secrets/prod/db?action=read&limit=100"));
    expect(body.path).toBe("prod/db");
    expect(ids(body.entries)).toEqual(
      ids(newestFirst(fixture.filter((e) => e.path === "prod/db" && e.action === "read"))),
    );
    expect((await get("/v1/audit/secrets/prod/db?path_prefix=prod")).status).toBe(400);
  });

  it("identity trail: every action of one identity", async () => {
    const who = "service_account:billing";
    const { entries } = await all(`/v1/audit/identities/${encodeURIComponent(who)}?limit=5`);
    expect(ids(entries)).toEqual(ids(newestFirst(fixture.filter((e) => e.identity.id === who))));
    expect((await json(await get(`/v1/audit/identities/${who}?limit=1`))).identity_id).toBe(who);
    expect((await get(`/v1/audit/identities/${who}?identity_type=user`)).status).toBe(400);
  });

  it("identity paths: each distinct path with per-action counts and first/last time, paged", async () => {
    const who = "user:ana@acme.example";
    const { entries, pages } = await all(`/v1/audit/identities/${encodeURIComponent(who)}/paths?limit=2`);
    const mine = fixture.filter((e) => e.identity.id === who);
    const expected = [...new Set(mine.map((e) => e.path))].sort().map((path) => {
      const on = mine.filter((e) => e.path === path);
      const actions: Record<string, number> = {};
      for (const e of on) actions[e.action] = (actions[e.action] ?? 0) + 1;
      const times = on.map((e) => e.timestamp).sort();
      return { path, actions, first_at: times[0], last_at: times.at(-1) };
    });
    expect(entries).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 2));
  });
});

describe("tenant isolation (every read endpoint)", () => {
  const endpoints = [
    "/v1/audit/logs?limit=2",
    "/v1/audit/secrets/prod/db?limit=2",
    `/v1/audit/identities/${encodeURIComponent("user:ana@acme.example")}?limit=2`,
    `/v1/audit/identities/${encodeURIComponent("user:ana@acme.example")}/paths?limit=2`,
  ];

  it.each(endpoints)("%s: another tenant sees nothing, and cannot use this tenant's cursor", async (path) => {
    const mine = await json(await get(path));
    expect((mine.entries ?? mine.paths).length).toBeGreaterThan(0);
    expect(mine.next_cursor).toBeTruthy();

    const other = await tokenFor(newTenant("other"), "audit:read");
    const theirs = await json(await get(path, other));
    expect(theirs.entries ?? theirs.paths).toEqual([]);
    expect(theirs.next_cursor).toBeNull();

    const stolen = await get(`${path}&cursor=${encodeURIComponent(mine.next_cursor)}`, other);
    expect(stolen.status).toBe(400);
    expect((await json(stolen)).errors[0].field).toBe("cursor");
  });
});
