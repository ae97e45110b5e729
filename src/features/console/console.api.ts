/**
 * @module features/console/api
 * The console reads and changes data only through the service's own HTTP API, called in-process
 * with the signed-in user's token: the same routes, scopes, tenant gate, validation and budgets as
 * any API client, so a page can show nothing the token could not fetch itself.
 */

export type Fetch = (request: Request) => Response | Promise<Response>;

export interface Problem {
  status: number;
  title: string;
  detail?: string;
  errors?: { field: string; message: string }[];
  request_id?: string;
}

export type Answer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; problem: Problem };

/** Only the path and query are used: the request never leaves the process. */
const INTERNAL = "http://console.internal";

export interface Api {
  get<T>(path: string, query?: URLSearchParams): Promise<Answer<T>>;
  send<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<Answer<T>>;
}

export function apiFor(fetch: Fetch, token: string): Api {
  async function call<T>(method: string, target: string, body?: unknown): Promise<Answer<T>> {
    const res = await fetch(
      new Request(new URL(target, INTERNAL), {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    const text = await res.text();
    const json = text ? JSON.parse(text) : {};
    if (res.ok) return { ok: true, status: res.status, body: json as T };
    return { ok: false, status: res.status, problem: { title: res.statusText, ...json, status: res.status } };
  }
  return {
    get: (path, query) => call("GET", query?.size ? `${path}?${query}` : path),
    send: (method, path, body) => call(method, path, body),
  };
}
