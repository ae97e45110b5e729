/**
 * @module features/exports/secrets
 * Resolves a destination's `credentials_secret` for the job's tenant, when the job runs:
 * from SECRETS_FILE (`{"<tenant>": {"<path>": {…}}}`, local use) or from ScaiVault over HTTP.
 * Failures are `ExportFailure`s with a code the job reports; secret values never reach a log.
 */
import { readFile } from "node:fs/promises";
import { ExportFailure } from "./exports.errors.ts";

export type SecretValue = Record<string, unknown>;

export interface SecretResolver {
  /** The secret's fields, or throws ExportFailure (secret_not_found, secret_unavailable, secret_invalid). */
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
        throw new ExportFailure(
          "secret_unavailable",
          `the secrets file cannot be read (${(err as NodeJS.ErrnoException).code ?? "invalid JSON"})`,
        );
      }
      const value = isObject(all) && isObject(all[tenant]) ? all[tenant][path] : undefined;
      if (value === undefined)
        throw new ExportFailure("secret_not_found", `no secret at '${path}' for this tenant`);
      if (!isObject(value))
        throw new ExportFailure("secret_invalid", `the secret at '${path}' is not an object`);
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
        throw new ExportFailure(
          "secret_unavailable",
          timedOut ? `ScaiVault did not answer within ${opts.timeoutMs} ms` : "ScaiVault cannot be reached",
        );
      }
      if (res.status === 404)
        throw new ExportFailure("secret_not_found", `no secret at '${path}' for this tenant`);
      if (res.status === 401 || res.status === 403)
        throw new ExportFailure(
          "secret_unavailable",
          `ScaiVault refused to read '${path}' (HTTP ${res.status})`,
        );
      if (!res.ok) throw new ExportFailure("secret_unavailable", `ScaiVault answered HTTP ${res.status}`);
      const body = (await res.json().catch(() => undefined)) as { data?: unknown } | undefined;
      if (!isObject(body?.data))
        throw new ExportFailure("secret_invalid", `ScaiVault's answer for '${path}' has no data object`);
      return body.data;
    },
  };
}

/** No backend configured: every export fails with a clear message instead of the service refusing to start. */
export const noSecrets: SecretResolver = {
  async resolve() {
    throw new ExportFailure(
      "secret_unavailable",
      "the service has no secrets backend: set SECRETS_FILE, or SCAIVAULT_ADDR and SCAIVAULT_TOKEN",
    );
  },
};
