/**
 * @module destinations/credentials
 * A destination's credentials come only from ScaiVault: the request names a secret
 * (`credentials_secret`), resolved for the caller's tenant when it is used — from SECRETS_FILE
 * (`{"<tenant>": {"<path>": {…}}}`, local use) or from ScaiVault over HTTP. Credentials written
 * into a request are refused by name. Failures are `DestinationError`s; secret values never reach
 * a log.
 */
import { readFile } from "node:fs/promises";
import { z } from "@hono/zod-openapi";
import type { FieldError } from "../errors.ts";
import { DestinationError } from "./errors.ts";

export type SecretValue = Record<string, unknown>;

export interface SecretResolver {
  /** The secret's fields, or throws DestinationError (secret_not_found, secret_unavailable, secret_invalid). */
  resolve(tenant: string, path: string): Promise<SecretValue>;
}

const isObject = (v: unknown): v is SecretValue => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads the file at every resolution, so a rotated secret is picked up without a restart. */
export function fileSecrets(file: string): SecretResolver {
  return {
    async resolve(tenant, path) {
      let all: unknown;
      try {
        all = JSON.parse(await readFile(file, "utf8"));
      } catch (err) {
        throw new DestinationError(
          "secret_unavailable",
          `the secrets file cannot be read (${(err as NodeJS.ErrnoException).code ?? "invalid JSON"})`,
        );
      }
      const value = isObject(all) && isObject(all[tenant]) ? all[tenant][path] : undefined;
      if (value === undefined)
        throw new DestinationError("secret_not_found", `no secret at '${path}' for this tenant`);
      if (!isObject(value))
        throw new DestinationError("secret_invalid", `the secret at '${path}' is not an object`);
      return value;
    },
  };
}

/**
 * ScaiVault's secrets API: `GET {addr}/v1/secrets/{path}` with the service token in
 * `X-ScaiVault-Token` and the tenant in `X-ScaiVault-Tenant`; the answer is `{"data": {…}}`.
 * Redirects are refused (a token must not follow one elsewhere); each call has a timeout.
 */
export function scaivaultSecrets(opts: { addr: string; token: string; timeoutMs: number }): SecretResolver {
  const base = opts.addr.replace(/\/+$/, "");
  return {
    async resolve(tenant, path) {
      const url = `${base}/v1/secrets/${path.split("/").map(encodeURIComponent).join("/")}`;
      let res: Response;
      try {
        res = await fetch(url, {
          headers: {
            "X-ScaiVault-Token": opts.token,
            "X-ScaiVault-Tenant": tenant,
            Accept: "application/json",
          },
          redirect: "error",
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (err) {
        const timedOut = (err as Error).name === "TimeoutError";
        throw new DestinationError(
          "secret_unavailable",
          timedOut ? `ScaiVault did not answer within ${opts.timeoutMs} ms` : "ScaiVault cannot be reached",
        );
      }
      if (res.status === 404)
        throw new DestinationError("secret_not_found", `no secret at '${path}' for this tenant`);
      if (res.status === 401 || res.status === 403)
        throw new DestinationError(
          "secret_unavailable",
          `ScaiVault refused to read '${path}' (HTTP ${res.status})`,
        );
      if (!res.ok) throw new DestinationError("secret_unavailable", `ScaiVault answered HTTP ${res.status}`);
      const body = (await res.json().catch(() => undefined)) as { data?: unknown } | undefined;
      if (!isObject(body?.data))
        throw new DestinationError("secret_invalid", `ScaiVault's answer for '${path}' has no data object`);
      return body.data;
    },
  };
}

/** No backend configured: every export fails with a clear message instead of the service refusing to start. */
export const noSecrets: SecretResolver = {
  async resolve() {
    throw new DestinationError(
      "secret_unavailable",
      "the service has no secrets backend: set SECRETS_FILE, or SCAIVAULT_ADDR and SCAIVAULT_TOKEN",
    );
  },
};

/** `credentials_secret`: the path of a ScaiVault secret. */
export const secretPath = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, "must be a secret path such as infra/aws/audit-exporter")
  // A '.' or '..' segment would be resolved by URL rules on its way to ScaiVault: another secret.
  .refine((p) => !p.split("/").some((s) => s === "." || s === ".."), "must not contain '.' or '..' segments")
  .max(512)
  .openapi({ description: "Path of a ScaiVault secret holding the credentials, resolved for your tenant." });

/** Keys that would put a credential in a request; credentials come only from `credentials_secret`. */
export const INLINE_CREDENTIAL_KEYS = [
  "access_key_id",
  "secret_access_key",
  "session_token",
  "connection_string",
  "sas_token",
  "account_key",
  "private_key",
  "client_secret",
  "credentials",
] as const;

/** Every inline credential anywhere in a request body, by its field name. */
export function inlineCredentials(body: unknown, path: string[] = []): FieldError[] {
  if (typeof body !== "object" || body === null) return [];
  return Object.entries(body).flatMap(([k, v]) => [
    ...((INLINE_CREDENTIAL_KEYS as readonly string[]).includes(k)
      ? [
          {
            field: [...path, k].join("."),
            message:
              "inline credentials are not accepted: store them in ScaiVault and name the secret's path in destination.credentials_secret",
          },
        ]
      : []),
    ...inlineCredentials(v, [...path, k]),
  ]);
}

/** A resolved secret in the shape a destination needs, or secret_invalid naming what was expected. */
export function secretAs<T>(schema: z.ZodType<T>, secret: SecretValue, expected: string): T {
  const parsed = schema.safeParse(secret);
  if (!parsed.success)
    throw new DestinationError("secret_invalid", `the credentials secret does not hold ${expected}`);
  return parsed.data;
}

/** The resolver configured (`Config["exports"]["secrets"]`): SECRETS_FILE, ScaiVault, or none. */
export function secretsFrom(
  s:
    | { kind: "file"; file: string }
    | { kind: "scaivault"; addr: string; token: string; timeoutMs: number }
    | { kind: "none" },
): SecretResolver {
  if (s.kind === "file") return fileSecrets(s.file);
  if (s.kind === "scaivault") return scaivaultSecrets(s);
  return noSecrets;
}
