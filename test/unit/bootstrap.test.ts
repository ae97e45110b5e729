import { describe, expect, it } from "vitest";
import {
  adaptPolicy,
  coldAfterDays,
  declaredDataStreams,
  loadAssets,
} from "../../src/opensearch/bootstrap.ts";

describe("shipped assets", async () => {
  const assets = await loadAssets();

  it("include the audit-events data stream template with the SIEM-facing mapping", () => {
    const t = assets.templates.find((x) => x.name === "audit-events")?.body as Record<string, any>;
    expect(t).toBeDefined();
    expect(declaredDataStreams(t)).toEqual(["audit-events"]);
    const m = t.template.mappings;
    expect(m.dynamic).toBe("strict");
    expect(m.properties["@timestamp"].type).toBe("date_nanos");
    expect(m.properties.source.properties.ip.type).toBe("ip");
    expect(m.properties.scaivault.properties.context.type).toBe("flat_object");
    expect(t.template.settings.index["sort.field"]).toEqual(["@timestamp", "event.id"]);
    expect(t.template.settings.index["sort.order"]).toEqual(["desc", "desc"]);
  });

  it("include a lifecycle policy that attaches itself to the data stream", () => {
    const p = assets.policies.find((x) => x.id === "audit-events-lifecycle")?.body as Record<string, any>;
    expect(p.policy.ism_template[0].index_patterns).toEqual(["audit-events"]);
    expect(p.policy.states.map((s: { name: string }) => s.name)).toEqual(["hot", "warm", "cold", "delete"]);
  });
});

describe("adaptPolicy", () => {
  const body = {
    policy: {
      description: "p",
      states: [
        { name: "hot", actions: [{ rollover: { min_index_age: "1d" } }] },
        {
          name: "cold",
          actions: [
            { allocation: { require: { temp: "cold" } } },
            { replica_count: { number_of_replicas: 0 } },
          ],
        },
      ],
    },
  };

  it("drops allocation to cold nodes when the cluster has none, keeping everything else", () => {
    const out = adaptPolicy(body, { coldTier: false }) as any;
    expect(out.policy.states[1].actions).toEqual([{ replica_count: { number_of_replicas: 0 } }]);
    expect(out.policy.states[0].actions).toEqual(body.policy.states[0]?.actions);
    expect(body.policy.states[1]?.actions).toHaveLength(2); // input untouched
  });

  it("keeps it when cold nodes exist", () => {
    const out = adaptPolicy(body, { coldTier: true }) as any;
    expect(out.policy.states[1].actions).toHaveLength(2);
  });

  it("stamps a revision that changes with the content, so an outdated installed policy is replaced", () => {
    const a = (adaptPolicy(body, { coldTier: true }) as any).policy.description;
    const b = (adaptPolicy(body, { coldTier: false }) as any).policy.description;
    expect(a).toMatch(/^p \[rev [0-9a-f]{12}\]$/);
    expect(a).not.toBe(b);
    expect((adaptPolicy(body, { coldTier: true }) as any).policy.description).toBe(a);
  });
});

describe("declaredDataStreams", () => {
  it("takes exact patterns of data stream templates only", () => {
    expect(declaredDataStreams({ index_patterns: ["a", "b*"], data_stream: {} })).toEqual(["a"]);
    expect(declaredDataStreams({ index_patterns: ["a"] })).toEqual([]);
  });
});

describe("lifecycle thresholds", () => {
  it("come from config into the policy; delete stays at the longest retention", async () => {
    const tiny = {
      rolloverAge: "1m",
      rolloverSize: "1mb",
      warmAfter: "2m",
      warmReplicas: 0,
      coldAfterDays: 1,
    };
    const assets = await loadAssets(undefined, tiny);
    const states = (assets.policies[0] as any).body.policy.states;
    const byName = Object.fromEntries(states.map((s: any) => [s.name, s]));
    expect(byName.hot.actions[0].rollover).toEqual({ min_index_age: "1m", min_primary_shard_size: "1mb" });
    expect(byName.hot.transitions[0]).toEqual({ state_name: "warm", conditions: { min_index_age: "2m" } });
    expect(byName.warm.actions).toContainEqual({ replica_count: { number_of_replicas: 0 } });
    expect(byName.warm.transitions[0]).toEqual({ state_name: "cold", conditions: { min_index_age: "1d" } });
    expect(byName.cold.transitions[0]).toEqual({
      state_name: "delete",
      conditions: { min_index_age: "3650d" },
    });
    expect(coldAfterDays(assets.policies)).toBe(1);
    expect(coldAfterDays((await loadAssets()).policies)).toBe(90);
  });
});
