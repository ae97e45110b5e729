/**
 * @module http/body
 * A JSON request body checked by a zod schema: 415 unless it is application/json, 400 when it is
 * not JSON, 400 naming every invalid field otherwise.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { parseJson } from "./json.ts";
import { fieldErrors, ProblemError } from "./problem.ts";

/**
 * The body as parsed JSON (not yet validated); `what` names it in the 415, e.g. "the export
 * request". A duplicate key or a number JSON.parse would change is a 400 naming it (http/json).
 */
export async function readJson(c: Context, what: string): Promise<unknown> {
  const type = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw new ProblemError(415, `send ${what} as application/json`);
  let parsed: ReturnType<typeof parseJson>;
  try {
    parsed = parseJson(await c.req.text());
  } catch {
    throw new ProblemError(400, "the body is not valid JSON", {
      errors: [{ field: "body", message: "is not valid JSON" }],
    });
  }
  if (parsed.problems.length > 0)
    throw new ProblemError(400, `${what} is invalid`, { errors: fieldErrors(parsed.problems) });
  return parsed.value;
}

/** `raw` validated by `schema`, or a 400 naming every invalid field. */
export function validBody<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new ProblemError(400, `${what} is invalid`, { errors: fieldErrors(parsed.error.issues) });
  return parsed.data;
}
