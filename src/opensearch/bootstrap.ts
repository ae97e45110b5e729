/**
 * @module opensearch/bootstrap
 * Installs what the service needs in OpenSearch, idempotently, at every start: the lifecycle
 * policies in `ilm-policies/` (when the cluster has Index State Management), the composable index
 * templates in `index-templates/`, and the data streams those templates declare.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@opensearch-project/opensearch";
import type { LifecycleThresholds } from "../config.ts";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

type Json = Record<string, unknown>;

export interface Assets {
  templates: { name: string; body: Json }[];
  policies: { id: string; body: Json }[];
}

export interface BootstrapResult {
  templates: string[];
  dataStreams: string[];
  indices: string[];

  lifecycle:
    | { mode: "ism"; policies: string[]; managed: Management[] }
    | { mode: "unavailable"; reason: string };
  coldTier: boolean;
  /** When indices move to the cold tier, by the policy (null: the policy has no cold state). */
  coldAfterDays: number | null;
}

async function readJsonDir(dir: string): Promise<{ name: string; body: Json }[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  return Promise.all(
    files.map(async (f) => ({
      name: path.basename(f, ".json"),
      body: JSON.parse(await readFile(path.join(dir, f), "utf8")) as Json,
    })),
  );
}

/**
 * Puts the thresholds into a policy (pure): the hot state's rollover and the ages of the moves to
 * warm and cold. Delete stays at the longest retention allowed after rollover.
 */
export function withThresholds(body: Json, t: LifecycleThresholds): Json {
  const out = structuredClone(body);
  const states = (out.policy as { states: { actions: Json[]; transitions?: Json[] }[] }).states;
  for (const s of states) {
    for (const a of s.actions) {
      if (a.rollover) a.rollover = { min_index_age: t.rolloverAge, min_primary_shard_size: t.rolloverSize };
    }
    for (const tr of s.transitions ?? []) {
      if (tr.state_name === "warm") tr.conditions = { min_index_age: t.warmAfter };
      if (tr.state_name === "cold") tr.conditions = { min_index_age: `${t.coldAfterDays}d` };
    }
  }
  return out;
}

/**
 * Reads the templates and policies shipped with the service (file name = template name / policy
 * id); `lifecycle` replaces the thresholds written in the policy files.
 */
export async function loadAssets(root = PROJECT_ROOT, lifecycle?: LifecycleThresholds): Promise<Assets> {
  const [templates, policies] = await Promise.all([
    readJsonDir(path.join(root, "index-templates")),
    readJsonDir(path.join(root, "ilm-policies")),
  ]);
  return {
    templates,
    policies: policies.map((p) => ({
      id: p.name,
      body: lifecycle ? withThresholds(p.body, lifecycle) : p.body,
    })),
  };
}

/**
 * Shapes a policy for this cluster (pure). Without cold nodes, allocating to `temp: cold` would
 * leave shards unassigned, so that action is dropped. The description gets a hash of the content
 * so the bootstrap can tell an outdated installed policy from the current one.
 */
export function adaptPolicy(body: Json, opts: { coldTier: boolean }): Json {
  const policy = structuredClone(body.policy) as { description?: string; states: { actions: Json[] }[] };
  if (!opts.coldTier) {
    for (const state of policy.states) {
      state.actions = state.actions.filter((a) => {
        const require = (a.allocation as { require?: Json } | undefined)?.require;
        return !(require && require.temp === "cold");
      });
    }
  }
  const hash = createHash("sha256").update(JSON.stringify(policy)).digest("hex").slice(0, 12);
  policy.description = `${policy.description ?? ""} [rev ${hash}]`.trim();
  return { policy };
}

/** Days after which the policy moves an index to its `cold` state (its transition's min_index_age). */
export function coldAfterDays(policies: Assets["policies"]): number | null {
  for (const p of policies) {
    const states = ((p.body.policy as Json | undefined)?.states ?? []) as {
      transitions?: { state_name: string; conditions?: { min_index_age?: string } }[];
    }[];
    for (const s of states)
      for (const t of s.transitions ?? []) {
        const age = t.state_name === "cold" ? /^(\d+)d$/.exec(t.conditions?.min_index_age ?? "") : null;
        if (age) return Number(age[1]);
      }
  }
  return null;
}

/** Data stream names a template declares: its exact (wildcard-free) patterns, when it has `data_stream`. */
export function declaredDataStreams(template: Json): string[] {
  if (!template.data_stream) return [];
  return ((template.index_patterns as string[] | undefined) ?? []).filter((p) => !p.includes("*"));
}

/**
 * Plain indices a template asks the bootstrap to create (`_meta.create_index: true`, exact patterns):
 * state the service searches before anything was written, such as export jobs.
 */
export function declaredIndices(template: Json): string[] {
  if (template.data_stream || (template._meta as Json | undefined)?.create_index !== true) return [];
  return ((template.index_patterns as string[] | undefined) ?? []).filter((p) => !p.includes("*"));
}

/** The mapping version a template declares in `template.mappings._meta.version` (0 when none). */
export function mappingVersion(template: Json): number {
  const meta = ((template.template as Json | undefined)?.mappings as Json | undefined)?._meta as
    | Json
    | undefined;
  return typeof meta?.version === "number" ? meta.version : 0;
}

/**
 * A template change reaches only indices created after it. When the data stream's write index
 * has an older mapping (strict: new fields would be refused), roll over so writes go to an index
 * with the current one. Older backing indices keep their mapping and stay searchable.
 */
async function rollOverIfOutdated(client: Client, stream: string, wanted: number): Promise<void> {
  const ds = await client.indices.getDataStream({ name: stream });
  const write = ds.body.data_streams[0]?.indices.at(-1)?.index_name;
  if (!write) return;
  const mapping = await client.indices.getMapping({ index: write });
  const current = ((mapping.body[write]?.mappings as Json | undefined)?._meta as Json | undefined)?.version;
  if ((typeof current === "number" ? current : 0) < wanted) await client.indices.rollover({ alias: stream });
}

async function clusterFeatures(client: Client): Promise<{ ism: boolean; coldTier: boolean }> {
  const [info, attrs] = await Promise.all([
    client.nodes.info({ metric: ["plugins"] }),
    client.cat.nodeattrs({ format: "json" }),
  ]);
  const nodes = Object.values(info.body.nodes ?? {}) as { plugins?: { name: string }[] }[];
  const ism =
    nodes.length > 0 &&
    nodes.every((n) => (n.plugins ?? []).some((p) => p.name === "opensearch-index-management"));
  const coldTier = (attrs.body as { attr?: string; value?: string }[]).some(
    (a) => a.attr === "temp" && a.value === "cold",
  );
  return { ism, coldTier };
}

/** Creates the policy, or replaces an outdated revision. Whether it wrote a new revision. */
async function installPolicy(client: Client, id: string, body: Json): Promise<boolean> {
  const wanted = (body.policy as { description: string }).description;
  const existing = await client.ism
    .getPolicy({ policy_id: id })
    .catch((err: { meta?: { statusCode?: number } }) => {
      if (err.meta?.statusCode === 404) return undefined;
      throw err;
    });
  if (!existing) {
    await client.ism.putPolicy({ policy_id: id, body: body as never });
    return true;
  }
  const current = existing.body as {
    _seq_no: number;
    _primary_term: number;
    policy?: { description?: string };
  };
  if (current.policy?.description === wanted) return false;
  await client.ism.putPolicy({
    policy_id: id,
    if_seq_no: current._seq_no,
    if_primary_term: current._primary_term,
    body: body as never,
  });
  return true;
}

/** The ISM setting naming an index's policy, as explain reports it (null: not managed). */
const ISM_POLICY_ID = "index.plugins.index_state_management.policy_id";

/** What `manageBackingIndices` did, for the log and the tests. */
export interface Management {
  policy: string;
  /** Backing indices that had no policy and were attached to this one (`_plugins/_ism/add`). */
  added: string[];
  /** Backing indices moved to the policy's new revision (`_plugins/_ism/change_policy`). */
  changed: string[];
  /** What ISM refused, index → reason. */
  failed: Record<string, string>;
}

/**
 * ISM runs the copy of a policy taken when an index was attached, and `ism_template` attaches
 * only indices created after the policy. So, after installing it: every backing index of the
 * streams the policy names that has no policy (a cluster that ran without ISM, a recreated policy)
 * is attached, and when a new revision was written, the indices on this policy are moved to it
 * (ISM switches at the next safe point, when the current state's actions are done). Indices on
 * another policy are an operator's choice and left alone.
 */
export async function manageBackingIndices(
  client: Client,
  policyId: string,
  streams: string[],
  revised: boolean,
): Promise<Management> {
  const out: Management = { policy: policyId, added: [], changed: [], failed: {} };
  const backing: string[] = [];
  for (const name of streams) {
    const ds = await client.indices.getDataStream({ name });
    backing.push(...(ds.body.data_streams[0]?.indices.map((i) => i.index_name) ?? []));
  }
  if (backing.length === 0) return out;
  const explain = (await client.ism.explainPolicy({ index: backing.join(",") })).body as Record<
    string,
    Record<string, unknown> | undefined
  >;
  const policyOf = (index: string) => explain[index]?.[ISM_POLICY_ID] ?? null;
  const unmanaged = backing.filter((i) => policyOf(i) === null);
  const ours = backing.filter((i) => policyOf(i) === policyId);
  const record = (body: unknown, into: string[], asked: string[]) => {
    const failed =
      (body as { failed_indices?: { index_name: string; reason: string }[] }).failed_indices ?? [];
    for (const f of failed) out.failed[f.index_name] = f.reason;
    into.push(...asked.filter((i) => !(i in out.failed)));
  };
  if (unmanaged.length > 0) {
    const res = await client.ism.addPolicy({
      index: unmanaged.join(","),
      body: { policy_id: policyId } as never,
    });
    record(res.body, out.added, unmanaged);
  }
  if (revised && ours.length > 0) {
    const res = await client.ism.changePolicy({
      index: ours.join(","),
      body: { policy_id: policyId } as never,
    });
    record(res.body, out.changed, ours);
  }
  return out;
}

/** The data streams a policy attaches to through its `ism_template` (exact names). */
function streamsOf(policy: Json, declared: string[]): string[] {
  const templates = ((policy.policy as Json | undefined)?.ism_template ?? []) as {
    index_patterns?: string[];
  }[];
  const patterns = templates.flatMap((t) => t.index_patterns ?? []);
  return declared.filter((d) => patterns.includes(d));
}

function ignoreExists(err: { meta?: { body?: { error?: { type?: string } } } }): void {
  if (err.meta?.body?.error?.type !== "resource_already_exists_exception") throw err;
}

export async function bootstrap(client: Client, assets: Assets): Promise<BootstrapResult> {
  const features = await clusterFeatures(client);

  // Policies before templates and data streams: ISM attaches `ism_template` only to indices created after it.
  let lifecycle: BootstrapResult["lifecycle"];
  const revised = new Map<string, boolean>();
  if (features.ism) {
    for (const p of assets.policies)
      revised.set(p.id, await installPolicy(client, p.id, adaptPolicy(p.body, features)));
    lifecycle = { mode: "ism", policies: assets.policies.map((p) => p.id), managed: [] };
  } else {
    lifecycle = {
      mode: "unavailable",
      reason: "the cluster has no Index State Management plugin (opensearch-index-management)",
    };
  }

  for (const t of assets.templates)
    await client.indices.putIndexTemplate({ name: t.name, body: t.body as never });

  const dataStreams: string[] = [];
  for (const t of assets.templates) {
    for (const name of declaredDataStreams(t.body)) {
      dataStreams.push(name);
      await client.indices.createDataStream({ name }).catch(ignoreExists);
      await rollOverIfOutdated(client, name, mappingVersion(t.body));
    }
  }

  // Then the backing indices ISM would not pick up by itself (see manageBackingIndices).
  if (lifecycle.mode === "ism") {
    for (const p of assets.policies)
      lifecycle.managed.push(
        await manageBackingIndices(client, p.id, streamsOf(p.body, dataStreams), revised.get(p.id) ?? false),
      );
  }

  const indices: string[] = [];
  for (const t of assets.templates) {
    for (const name of declaredIndices(t.body)) {
      indices.push(name);
      await client.indices.create({ index: name }).catch(ignoreExists);
      // One made by an older version gets the fields added since (its strict mapping refuses them).
      const mappings = (t.body.template as Json | undefined)?.mappings as Json | undefined;
      if (mappings?.properties)
        await client.indices.putMapping({ index: name, body: { properties: mappings.properties } as never });
    }
  }

  return {
    templates: assets.templates.map((t) => t.name),
    dataStreams,
    indices,
    lifecycle,
    coldTier: features.coldTier,
    coldAfterDays: coldAfterDays(assets.policies),
  };
}
