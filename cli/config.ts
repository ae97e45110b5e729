/**
 * @module cli/config
 * Where the CLI sends requests and with which token. Precedence, per setting:
 * flags (--url, --token, --profile) > environment (SCAIVAULT_AUDIT_URL, SCAIVAULT_AUDIT_TOKEN,
 * SCAIVAULT_AUDIT_PROFILE) > the profile file (SCAIVAULT_AUDIT_CONFIG, else
 * ~/.config/scaivault-audit/config.json) > the default URL http://localhost:8080.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { UsageError } from "./client.ts";

export const DEFAULT_URL = "http://localhost:8080";

const ProfileSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
  token: z.string().min(1, "must not be empty").optional(),
});
const FileSchema = z.strictObject({ profiles: z.record(z.string(), ProfileSchema) });
export type Profile = z.infer<typeof ProfileSchema>;

export interface Settings {
  url: string;
  token: string | undefined;
}

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.SCAIVAULT_AUDIT_CONFIG || path.join(homedir(), ".config", "scaivault-audit", "config.json");
}

/** The named profile from the file; none when the file is absent and no profile was asked for by name. */
export function readProfile(file: string, name: string, explicit: boolean): Profile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !explicit) return {};
    throw new UsageError(
      `${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not JSON: ${(err as Error).message}`);
  }
  const parsed = FileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(file)"}: ${i.message}`);
    throw new UsageError(`${file}: invalid profile file\n${lines.join("\n")}`);
  }
  const profile = parsed.data.profiles[name];
  if (!profile) {
    if (!explicit) return {};
    throw new UsageError(
      `${file}: no profile "${name}" (profiles: ${Object.keys(parsed.data.profiles).join(", ") || "none"})`,
    );
  }
  return profile;
}

export function resolveSettings(
  flags: { url?: string; token?: string; profile?: string },
  env: NodeJS.ProcessEnv = process.env,
): Settings {
  const name = flags.profile ?? (env.SCAIVAULT_AUDIT_PROFILE || undefined);
  // Only read the file when something is left to take from it.
  const needFile =
    !(flags.url ?? env.SCAIVAULT_AUDIT_URL) ||
    !(flags.token ?? env.SCAIVAULT_AUDIT_TOKEN) ||
    name !== undefined;
  const profile = needFile ? readProfile(configFile(env), name ?? "default", name !== undefined) : {};
  const url = flags.url ?? (env.SCAIVAULT_AUDIT_URL || undefined) ?? profile.url ?? DEFAULT_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
    throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`);
  return { url, token: flags.token ?? (env.SCAIVAULT_AUDIT_TOKEN || undefined) ?? profile.token };
}
