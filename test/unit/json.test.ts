import { describe, expect, it } from "vitest";
import { DUPLICATE_KEY, INEXACT_NUMBER, isExactNumber, parseJson } from "../../src/http/json.ts";

describe("request JSON: nothing silently altered", () => {
  it("parses ordinary JSON like JSON.parse, with no problems", () => {
    const text = JSON.stringify({
      events: [{ a: 1, b: "x:y", "c:d": [1.5, -2, 0.1, 1e21, 3.0e2], e: { f: null, g: true } }],
      'weird " key': 'a ": b',
    });
    expect(parseJson(text)).toEqual({ value: JSON.parse(text), problems: [] });
  });

  it.each([
    ["12345678901234567890", false],
    ["9007199254740993", false], // 2^53 + 1 rounds to 2^53
    ["9007199254740992", true],
    ["1e400", false],
    ["-1e400", false],
    ["1e-400", false], // underflows to 0
    ["0.1", true],
    ["1.0", true],
    ["1e2", true],
    ["-0", true],
    ["0.30000000000000004", true],
    ["0.3000000000000000444", false],
    ["123456789012345", true],
    ["1.7976931348623157e308", true],
  ])("the number %s is exact: %s", (literal, exact) => {
    expect(isExactNumber(literal)).toBe(exact);
  });

  it("names every number that would change, by path", () => {
    const { value, problems } = parseJson(
      '{"events":[{"context":{"big":12345678901234567890,"ok":1.5}},{"request":{"status":1e400}},{"context":{"list":[1,2,1e-400]}}]}',
    );
    expect(problems).toEqual([
      { path: ["events", 0, "context", "big"], message: INEXACT_NUMBER },
      { path: ["events", 1, "request", "status"], message: INEXACT_NUMBER },
      { path: ["events", 2, "context", "list", 2], message: INEXACT_NUMBER },
    ]);
    expect((value as { events: unknown[] }).events).toHaveLength(3);
  });

  it("names every duplicate key, at any depth, escaped or not", () => {
    const { problems } = parseJson('{"a":1,"b":{"c":1,"\\u0063":2},"d":[{"e":1,"e":2}],"a":3}');
    expect(problems).toEqual([
      { path: ["a"], message: DUPLICATE_KEY },
      { path: ["b", "c"], message: DUPLICATE_KEY },
      { path: ["d", 0, "e"], message: DUPLICATE_KEY },
    ]);
  });

  it("keeps __proto__ as an own key, never a prototype", () => {
    const { value, problems } = parseJson('{"__proto__":{"polluted":"yes"},"keep":"k"}');
    expect(problems).toEqual([]);
    expect(Object.keys(value as object)).toEqual(["__proto__", "keep"]);
    expect(({} as { polluted?: string }).polluted).toBeUndefined();
  });

  it("is not fooled by colons and digits inside strings", () => {
    const { problems } = parseJson('{"a":"x:1:2:12345678901234567890","b":"\\":\\\\"}');
    expect(problems).toEqual([]);
  });

  it("locates problems at any depth without overflowing the stack", () => {
    const depth = 20_000;
    const { problems } = parseJson(`{"a":${"[".repeat(depth)}1e400${"]".repeat(depth)},"a":1}`);
    expect(problems.map((p) => p.message)).toEqual([DUPLICATE_KEY, INEXACT_NUMBER]);
    expect(problems[1]?.path).toHaveLength(depth + 1);
  });

  it("throws on text that is not JSON", () => {
    for (const bad of ["{", "{'a':1}", "NaN", "[1,]", ""]) expect(() => parseJson(bad)).toThrow(SyntaxError);
  });
});
