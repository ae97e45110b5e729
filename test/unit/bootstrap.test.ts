import type { Client } from "@opensearch-project/opensearch";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import {
  adaptPolicy,
  bootstrap,
  coldAfterDays,
  declaredDataStreams,
  loadAssets,
} from "../../src/opensearch/bootstrap.ts";
import { MAX_RETENTION_DAYS } from "../../src/tenancy/retention.ts";
import { SERVICE_ENV } from "../support/app.ts";

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
  it("come from config into the policy; delete stays at the longest retention after rollover", async () => {
    const tiny = { rolloverAge: "1m", rolloverSize: "1mb", warmAfter: "2m", coldAfterDays: 1 };
    const assets = await loadAssets(undefined, tiny);
    const states = (assets.policies[0] as any).body.policy.states;
    const byName = Object.fromEntries(states.map((s: any) => [s.name, s]));
    expect(byName.hot.actions[0].rollover).toEqual({ min_index_age: "1m", min_primary_shard_size: "1mb" });
    expect(byName.hot.transitions[0]).toEqual({ state_name: "warm", conditions: { min_index_age: "2m" } });
    expect(byName.warm.transitions[0]).toEqual({ state_name: "cold", conditions: { min_index_age: "1d" } });
    expect(byName.cold.transitions[0]).toEqual({
      state_name: "delete",
      conditions: { min_rollover_age: `${MAX_RETENTION_DAYS}d` },
    });
    expect(coldAfterDays(assets.policies)).toBe(1);
    expect(coldAfterDays((await loadAssets()).policies)).toBe(90);
  });
});

/**
 * The five ISM defects, checked on the policy the service would send, for default and tiny
 * thresholds, with and without cold nodes. (No ISM plugin can be installed on these machines; each
 * rule below was read in opensearch-project/index-management's source: ForceMergeAction's
 * AttemptSetReadOnlyStep sets index.blocks.write and nothing lifts it; ReadWriteAction's
 * SetReadWriteStep does; core resets number_of_replicas under auto_expand_replicas; Transition's
 * min_rollover_age reads the index's rollover_info; RolloverAction requires a size above 0.)
 */
describe("the lifecycle policy as ISM would run it", async () => {
  const tiny = { rolloverAge: "1m", rolloverSize: "1mb", warmAfter: "2m", coldAfterDays: 1 };
  const variants = [
    ["default thresholds, cold nodes", await loadAssets(), true],
    ["default thresholds, no cold nodes", await loadAssets(), false],
    ["tiny thresholds, cold nodes", await loadAssets(undefined, tiny), true],
    ["tiny thresholds, no cold nodes", await loadAssets(undefined, tiny), false],
  ] as const;

  it.each(variants)("%s", (_name, assets, coldTier) => {
    const sent = adaptPolicy((assets.policies[0] as { body: Record<string, unknown> }).body, {
      coldTier,
    }) as any;
    const states = Object.fromEntries(sent.policy.states.map((s: any) => [s.name, s]));
    const kinds = (state: string) => states[state].actions.map((a: object) => Object.keys(a)[0]);
    // 1. force_merge leaves index.blocks.write=true: read_write comes right after it.
    const warm = kinds("warm");
    expect(warm.indexOf("read_write")).toBe(warm.indexOf("force_merge") + 1);
    for (const s of Object.keys(states)) if (s !== "warm") expect(kinds(s)).not.toContain("force_merge");
    // 2. One replica mechanism: auto_expand_replicas in the template, no replica_count in the policy.
    for (const s of Object.keys(states)) expect(kinds(s)).not.toContain("replica_count");
    const template = assets.templates.find((t) => t.name === "audit-events")?.body as any;
    expect(template.template.settings.index.auto_expand_replicas).toBe("0-1");
    expect(template.template.settings.index.number_of_replicas).toBeUndefined();
    // 5. Delete measured from rollover, not creation, at the longest retention allowed.
    const toDelete = sent.policy.states
      .flatMap((s: any) => s.transitions)
      .find((t: any) => t.state_name === "delete");
    expect(toDelete.conditions).toEqual({ min_rollover_age: `${MAX_RETENTION_DAYS}d` });
    // The rollover size ISM accepts (more than 0), and cold allocation only with cold nodes.
    expect(Number.parseInt(states.hot.actions[0].rollover.min_primary_shard_size, 10)).toBeGreaterThan(0);
    expect(kinds("cold").includes("allocation")).toBe(coldTier);
  });

  it("config refuses a rollover size of 0 and the old warm replica setting", () => {
    expect(() => loadConfig({ ...SERVICE_ENV, LIFECYCLE_ROLLOVER_SIZE: "0gb" }, "/tmp")).toThrow(
      /LIFECYCLE_ROLLOVER_SIZE/,
    );
    expect(() => loadConfig({ ...SERVICE_ENV, LIFECYCLE_WARM_REPLICAS: "2" }, "/tmp")).toThrow(
      /LIFECYCLE_WARM_REPLICAS.*auto_expand/s,
    );
    expect(
      loadConfig({ ...SERVICE_ENV, LIFECYCLE_ROLLOVER_SIZE: "1mb" }, "/tmp").lifecycle.rolloverSize,
    ).toBe("1mb");
  });
});

/**
 * The requests the bootstrap sends to a cluster with ISM, recorded by a stand-in client (there is no
 * ISM to run here): attach unmanaged backing indices, move managed ones to a new revision.
 */
describe("bootstrap on a cluster with ISM", async () => {
  const assets = await loadAssets();
  const POLICY = "audit-events-lifecycle";
  const backing = [".ds-audit-events-000001", ".ds-audit-events-000002", ".ds-audit-events-000003"];

  function ismCluster(opts: { installed?: string; policyOf: Record<string, string | null> }) {
    const calls: [string, Record<string, unknown>][] = [];
    const ok = (body: unknown = {}) => Promise.resolve({ body });
    const rec =
      (name: string, answer: (p: any) => Promise<unknown> = () => ok()) =>
      (p: Record<string, unknown> = {}) => {
        calls.push([name, p]);
        return answer(p);
      };
    const client = {
      nodes: {
        info: rec("nodes.info", () =>
          ok({ nodes: { n1: { plugins: [{ name: "opensearch-index-management" }] } } }),
        ),
      },
      cat: { nodeattrs: rec("cat.nodeattrs", () => ok([])) },
      ism: {
        getPolicy: rec("ism.getPolicy", () =>
          opts.installed === undefined
            ? Promise.reject({ meta: { statusCode: 404 } })
            : ok({ _seq_no: 7, _primary_term: 1, policy: { description: opts.installed } }),
        ),
        putPolicy: rec("ism.putPolicy"),
        explainPolicy: rec("ism.explainPolicy", (p) =>
          ok(
            Object.fromEntries(
              String(p.index)
                .split(",")
                .map((i) => [
                  i,
                  { "index.plugins.index_state_management.policy_id": opts.policyOf[i] ?? null },
                ]),
            ),
          ),
        ),
        addPolicy: rec("ism.addPolicy", () =>
          ok({ updated_indices: 1, failures: false, failed_indices: [] }),
        ),
        changePolicy: rec("ism.changePolicy", () =>
          ok({ updated_indices: 1, failures: false, failed_indices: [] }),
        ),
      },
      indices: {
        putIndexTemplate: rec("indices.putIndexTemplate"),
        createDataStream: rec("indices.createDataStream"),
        getDataStream: rec("indices.getDataStream", () =>
          ok({ data_streams: [{ indices: backing.map((index_name) => ({ index_name })) }] }),
        ),
        getMapping: rec("indices.getMapping", (p) =>
          ok({ [p.index]: { mappings: { _meta: { version: 99 } } } }),
        ),
        rollover: rec("indices.rollover"),
        create: rec("indices.create"),
        putMapping: rec("indices.putMapping"),
      },
    };
    return { client: client as unknown as Client, calls };
  }
  const ism = (calls: [string, Record<string, unknown>][]) =>
    calls.filter(([n]) => n.startsWith("ism.") && n !== "ism.getPolicy");
  const current = (adaptPolicy((assets.policies[0] as any).body, { coldTier: false }) as any).policy
    .description;

  it("a current policy: attaches only the backing indices without a policy", async () => {
    const { client, calls } = ismCluster({
      installed: current,
      policyOf: {
        [backing[0] as string]: null,
        [backing[1] as string]: POLICY,
        [backing[2] as string]: "someone-elses",
      },
    });
    const r = await bootstrap(client, assets);
    expect(ism(calls)).toEqual([
      ["ism.explainPolicy", { index: backing.join(",") }],
      ["ism.addPolicy", { index: backing[0], body: { policy_id: POLICY } }],
    ]);
    expect(r.lifecycle).toMatchObject({
      mode: "ism",
      managed: [{ policy: POLICY, added: [backing[0]], changed: [] }],
    });
  });

  it("an outdated revision: replaced conditionally, then indices on it moved by change_policy", async () => {
    const { client, calls } = ismCluster({
      installed: "old [rev 000000000000]",
      policyOf: {
        [backing[0] as string]: POLICY,
        [backing[1] as string]: POLICY,
        [backing[2] as string]: null,
      },
    });
    const r = await bootstrap(client, assets);
    expect(ism(calls)).toEqual([
      ["ism.putPolicy", expect.objectContaining({ policy_id: POLICY, if_seq_no: 7, if_primary_term: 1 })],
      ["ism.explainPolicy", { index: backing.join(",") }],
      ["ism.addPolicy", { index: backing[2], body: { policy_id: POLICY } }],
      ["ism.changePolicy", { index: `${backing[0]},${backing[1]}`, body: { policy_id: POLICY } }],
    ]);
    expect(r.lifecycle).toMatchObject({
      managed: [{ added: [backing[2]], changed: [backing[0], backing[1]], failed: {} }],
    });
  });

  it("a cluster that never had the policy: created, and every backing index attached", async () => {
    const { client, calls } = ismCluster({ policyOf: {} });
    await bootstrap(client, assets);
    expect(ism(calls)).toEqual([
      ["ism.putPolicy", expect.objectContaining({ policy_id: POLICY })],
      ["ism.explainPolicy", { index: backing.join(",") }],
      ["ism.addPolicy", { index: backing.join(","), body: { policy_id: POLICY } }],
    ]);
    // The policy goes in before the templates and data streams (ism_template attaches new indices only).
    const names = calls.map(([n]) => n);
    expect(names.indexOf("ism.putPolicy")).toBeLessThan(names.indexOf("indices.putIndexTemplate"));
  });
});
