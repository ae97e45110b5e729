import { describe, expect, it } from "vitest";
import { InvalidInput } from "../../src/errors.ts";
import { parseInstant } from "../../src/events/time.ts";
import { eventsSearch, pathsSearch } from "../../src/features/query/query.query.ts";
import { filterClauses } from "../../src/filters/filters.query.ts";
import {
  FILTER_PARAMS,
  type FilterParam,
  filterHash,
  isAddressOrCidr,
  parseQuery,
  parseSourceIp,
} from "../../src/filters/filters.ts";
import { Cursors } from "../../src/http/cursor.ts";

const T = { id: "t", since: null };

const NOW = new Date("2026-11-26T14:30:00.000Z");
const parse = (qs: string, allowed: readonly FilterParam[] = FILTER_PARAMS) =>
  parseQuery(new URLSearchParams(qs), { allowed, now: NOW });
const errorsOf = (qs: string, allowed: readonly FilterParam[] = FILTER_PARAMS) => {
  try {
    parse(qs, allowed);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInput);
    return (err as InvalidInput).errors;
  }
  throw new Error("expected a 400");
};

describe("query instants", () => {
  it.each([
    ["now", "2026-11-26T14:30:00.000000Z"],
    ["now-15m", "2026-11-26T14:15:00.000000Z"],
    ["now-7d", "2026-11-19T14:30:00.000000Z"],
    ["now-2w", "2026-11-12T14:30:00.000000Z"],
    ["now-36h", "2026-11-25T02:30:00.000000Z"],
    ["now-90s", "2026-11-26T14:28:30.000000Z"],
    ["2026-11-26T15:25:00+01:00", "2026-11-26T14:25:00.000000Z"],
    ["2026-11-26T14:25:00.000001Z", "2026-11-26T14:25:00.000001Z"],
    ["2026-10-01", "2026-10-01T00:00:00.000000Z"],
    ["2026-11-26T15:25:00 01:00", "2026-11-26T14:25:00.000000Z"], // '+' sent unencoded
  ])("%s → %s", (input, expected) => {
    expect(parseInstant(input, NOW)).toMatchObject({ ok: true, value: expected });
  });

  it.each([
    "yesterday",
    "now-7x",
    "now-",
    "2026-13-01",
    "2026-11-26T14:25",
    "1969-01-01",
    "2262-01-01",
    "now+13000w",
    "now+999999d",
    "now-999999w",
    "now+24000w",
  ])("%s is refused", (input) => {
    const r = parseInstant(input, NOW);
    expect(r.ok).toBe(false);
  });
});

describe("parseQuery", () => {
  it("reads every filter", () => {
    const { filters, limit } = parse(
      "from=now-1h&to=2026-11-26T14:30:00Z&action=read&action=write,rotate&identity_id=user:a&identity_type=user" +
        "&path_prefix=prod/db/&success=false&source_ip=10.0.0.0/8&request_id=req_1&q=hunter&limit=5",
    );
    expect(filters).toEqual({
      from: "2026-11-26T13:30:00.000000Z",
      to: "2026-11-26T14:30:00.000000Z",
      actions: ["read", "rotate", "write"],
      identityId: "user:a",
      identityType: "user",
      pathPrefix: "prod/db",
      success: false,
      sourceIp: "10.0.0.0/8",
      requestId: "req_1",
      q: "hunter",
    });
    expect(limit).toBe(5);
  });

  it("defaults the limit to 100", () => {
    expect(parse("").limit).toBe(100);
  });

  it("names each bad parameter, all at once", () => {
    const errors = errorsOf(
      "limit=1001&action=read,peek&identity_type=robot&success=yes&source_ip=10.0.0.0/33&bogus=1&from=soon",
    );
    expect(errors.map((e) => e.field).sort()).toEqual([
      "action",
      "bogus",
      "from",
      "identity_type",
      "limit",
      "source_ip",
      "success",
    ]);
    expect(errors.find((e) => e.field === "bogus")?.message).toBe("is not a parameter of this endpoint");
    expect(errors.find((e) => e.field === "action")?.message).toContain("'peek'");
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=1.5", "limit"],
    ["limit=abc", "limit"],
    ["from=now&to=now-1h", "from"],
    ["from=2026-11-26T14:00:00Z&to=2026-11-26T14:00:00Z", "from"],
    ["path_prefix=/prod", "path_prefix"],
    ["path_prefix=/", "path_prefix"],
    ["identity_id=", "identity_id"],
    ["request_id=a&request_id=b", "request_id"],
    ["cursor=", "cursor"],
  ])("%s is a 400 naming %s", (qs, field) => {
    expect(errorsOf(qs).map((e) => e.field)).toContain(field);
  });

  it("refuses a filter an endpoint does not take", () => {
    const allowed = FILTER_PARAMS.filter((p) => p !== "path_prefix");
    expect(errorsOf("path_prefix=prod", allowed)).toEqual([
      { field: "path_prefix", message: "is not a parameter of this endpoint" },
    ]);
  });

  it("hashes equivalent filter sets alike: order, repetition vs comma, trailing slash, offsets", () => {
    const a = parse("action=read&action=write&path_prefix=prod/&from=2026-11-26T15:00:00+01:00");
    const b = parse("path_prefix=prod&action=write,read&from=2026-11-26T14:00:00Z&limit=7");
    expect(a.hash).toBe(b.hash);
    expect(parse("action=read").hash).not.toBe(parse("action=write").hash);
  });

  it("hashes a relative time as written, so page two with the same words matches at a later now", () => {
    const later = parseQuery(new URLSearchParams("from=now-1h"), {
      allowed: FILTER_PARAMS,
      now: new Date(NOW.getTime() + 60_000),
    });
    expect(later.hash).toBe(parse("from=now-1h").hash);
    expect(later.filters.from).not.toBe(parse("from=now-1h").filters.from);
  });
});

describe("addresses", () => {
  it.each([
    ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["::FFFF:a00:1/128", "10.0.0.1/32"],
    ["0:0:0:0:0:ffff:0a00:0000/120", "10.0.0.0/24"],
    ["::ffff:0.0.0.0/96", "0.0.0.0/0"],
    ["10.0.0.0/8", "10.0.0.0/8"],
    ["2001:db8::/32", "2001:db8::/32"],
  ])("%s is searched as %s (an IPv4-mapped block is an IPv4 block to OpenSearch)", (v, as) => {
    expect(parseSourceIp(v)).toEqual({ ok: true, value: as });
  });
  it("refuses a mapped block that reaches beyond IPv4", () => {
    expect(parseSourceIp("::ffff:0:0/80")).toMatchObject({
      ok: false,
      message: expect.stringContaining("/96"),
    });
  });
  it.each(["10.1.2.3", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::7", "2001:db8::/32", "::/0"])(
    "%s is fine",
    (v) => expect(isAddressOrCidr(v)).toBe(true),
  );
  it.each(["10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "host", "10.0.0.0/8/1", "10.0.0.0/x"])(
    "%s is not",
    (v) => expect(isAddressOrCidr(v)).toBe(false),
  );
});

describe("query builders", () => {
  it("translates each filter", () => {
    expect(
      filterClauses({
        from: "2026-11-26T14:25:00.000000Z",
        to: "2026-11-26T14:35:00.000000Z",
        actions: ["read", "write"],
        identityId: "user:a",
        identityType: "service_account",
        path: "prod/x",
        pathPrefix: "prod/db",
        success: false,
        sourceIp: "10.0.0.0/8",
        requestId: "req_1",
        q: "hunter two",
      }),
    ).toEqual([
      {
        range: {
          "@timestamp": {
            gte: "2026-11-26T14:25:00.000000Z",
            lt: "2026-11-26T14:35:00.000000Z",
            format: "strict_date_optional_time_nanos",
          },
        },
      },
      { terms: { "event.action": ["read", "write"] } },
      { term: { "user.id": "user:a" } },
      { term: { "scaivault.identity.type": "service_account" } },
      { term: { "scaivault.path": "prod/x" } },
      {
        bool: {
          should: [{ term: { "scaivault.path": "prod/db" } }, { prefix: { "scaivault.path": "prod/db/" } }],
          minimum_should_match: 1,
        },
      },
      { term: { "event.outcome": "failure" } },
      { term: { "source.ip": "10.0.0.0/8" } },
      { term: { "http.request.id": "req_1" } },
      { match: { "scaivault.text": { query: "hunter two", operator: "and" } } },
    ]);
    expect(filterClauses({ from: "2026-01-01T00:00:00.000000Z" })).toEqual([
      {
        range: {
          "@timestamp": { gte: "2026-01-01T00:00:00.000000Z", format: "strict_date_optional_time_nanos" },
        },
      },
    ]);
    expect(filterClauses({})).toEqual([]);
  });

  it("pages events newest first with search_after on exact nanoseconds", () => {
    const body = eventsSearch(
      T,
      {},
      { limit: 50, after: ["2026-11-26T14:30:05.123456Z", "evt-9"] },
    ) as Record<string, unknown>;
    expect(body.sort).toEqual([{ "@timestamp": { order: "desc" } }, { "event.id": { order: "desc" } }]);
    expect(body.size).toBe(51);
    expect(body.track_total_hits).toBe(false);
    expect(body.search_after).toEqual(["2026-11-26T14:30:05.123456Z", "evt-9"]);
    expect("search_after" in (eventsSearch(T, {}, { limit: 5 }) as object)).toBe(false);
  });

  it("pages paths with a composite aggregation", () => {
    const body = pathsSearch(T, { identityId: "user:a" }, { limit: 2, after: "prod/a" }) as any;
    expect(body.size).toBe(0);
    expect(body.aggs.paths.composite).toEqual({
      size: 3,
      sources: [{ path: { terms: { field: "scaivault.path", order: "asc" } } }],
      after: { path: "prod/a" },
    });
    expect(Object.keys(body.aggs.paths.aggs)).toEqual(["actions", "first", "last"]);
  });
});

describe("cursors", () => {
  const cursors = new Cursors("k".repeat(32));
  const bind = { tenant: "acme", endpoint: "/v1/audit/logs", filters: filterHash({ actions: ["read"] }) };

  it("round-trip the position for the same tenant, endpoint and filters", () => {
    const c = cursors.encode(bind, { a: ["2026-11-26T14:30:05.123456Z", "x"] });
    expect(cursors.decode(c, bind)).toEqual({
      ok: true,
      position: { a: ["2026-11-26T14:30:05.123456Z", "x"] },
    });
  });

  it("refuse another tenant, another endpoint, other filters, a tampered payload, another key and garbage", () => {
    const c = cursors.encode(bind, { a: 1 });
    expect(cursors.decode(c, { ...bind, tenant: "globex" })).toMatchObject({ ok: false });
    expect(cursors.decode(c, { ...bind, endpoint: "/v1/audit/identities/:identity_id/paths" })).toMatchObject(
      {
        ok: false,
        message: expect.stringContaining("another endpoint"),
      },
    );
    expect(cursors.decode(c, { ...bind, filters: filterHash({ actions: ["write"] }) })).toMatchObject({
      ok: false,
      message: expect.stringContaining("other filters"),
    });
    const [data, sig] = c.split(".");
    const forged = Buffer.from(
      JSON.stringify({ t: "acme", e: bind.endpoint, h: bind.filters, p: { a: 2 } }),
    ).toString("base64url");
    expect(cursors.decode(`${forged}.${sig}`, bind)).toMatchObject({ ok: false });
    expect(new Cursors("z".repeat(32)).decode(c, bind)).toMatchObject({ ok: false });
    for (const junk of ["", "abc", `${data}`, `${data}.${sig}.x`, "🙂.🙂"])
      expect(cursors.decode(junk, bind).ok).toBe(false);
  });
});
