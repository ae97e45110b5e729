/**
 * @module cli/client
 * The CLI's HTTP client: base URL and bearer token, JSON in and out, and every failure turned into
 * one of two errors — ApiError (the service answered 4xx/5xx: its problem+json) or Unreachable
 * (no answer at all). main.ts maps them to exit codes 1 and 3.
 */

export interface FieldError {
  field: string;
  message: string;
}

/** The service answered with an error (application/problem+json, or anything else non-2xx). */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[];
  readonly requestId: string | undefined;
  constructor(p: {
    status: number;
    title: string;
    detail?: string;
    errors?: FieldError[];
    requestId?: string;
  }) {
    super(`${p.title} (${p.status})${p.detail ? `: ${p.detail}` : ""}`);
    this.status = p.status;
    this.title = p.title;
    this.detail = p.detail;
    this.errors = p.errors ?? [];
    this.requestId = p.requestId;
  }
}

/** The service could not be reached (connection refused, DNS, TLS, timeout). */
export class Unreachable extends Error {
  override name = "Unreachable";
}

/** A failure of the CLI's own (bad usage found after parsing, a bad profile file): exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A check that did not hold (verify, a failed export): exit code 1, message already printed. */
export class Failed extends Error {
  override name = "Failed";
}

export type Query = Record<string, string | string[] | number | boolean | undefined>;

export function queryString(q: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, String(one));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/** Reads a non-2xx answer into an ApiError: the problem+json fields when it is one. */
export async function apiErrorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object") body = parsed as Record<string, unknown>;
  } catch {
    /* not JSON: keep the status text */
  }
  const errors = Array.isArray(body.errors)
    ? (body.errors as unknown[]).flatMap((e) =>
        e && typeof e === "object" && "field" in e
          ? [{ field: String((e as FieldError).field), message: String((e as FieldError).message ?? "") }]
          : [],
      )
    : [];
  return new ApiError({
    status: res.status,
    title: typeof body.title === "string" ? body.title : res.statusText || "Error",
    ...(typeof body.detail === "string"
      ? { detail: body.detail }
      : text && !body.title
        ? { detail: text.slice(0, 500) }
        : {}),
    errors,
    ...(typeof body.request_id === "string"
      ? { requestId: body.request_id }
      : res.headers.get("x-request-id")
        ? { requestId: res.headers.get("x-request-id") as string }
        : {}),
  });
}

export class Client {
  readonly baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      Accept: "application/json",
      ...(this.#token ? { Authorization: `Bearer ${this.#token}` } : {}),
      ...extra,
    };
  }

  /** Sends one request; resolves the raw response when it is 2xx, else throws ApiError / Unreachable. */
  async send(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const url = `${this.baseUrl}${path}${queryString(opts.query ?? {})}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: this.headers({
          ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
          ...opts.headers,
        }),
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Unreachable(
        `cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    if (!res.ok) throw await apiErrorOf(res);
    return res;
  }

  async json<T = unknown>(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown } = {},
  ): Promise<T> {
    const res = await this.send(method, path, opts);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T = unknown>(path: string, query: Query = {}): Promise<T> {
    return this.json<T>("GET", path, { query });
  }
}

/** Percent-encodes each segment of a path that may hold `/` (a secret path). */
export const encodePath = (p: string): string => p.split("/").map(encodeURIComponent).join("/");
