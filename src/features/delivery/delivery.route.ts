/**
 * @module features/delivery
 * /v1/audit/destinations (audit:admin): create, list, read, change, delete, pause, resume, replay
 * and test delivery destinations. Thin handlers: bodies are checked by their schemas (inline
 * credentials are refused by name first); the deliverers send (delivery.deliverer).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { inlineCredentials } from "../../destinations/credentials.ts";
import type { Gate } from "../../http/admission.ts";
import type { AppEnv } from "../../http/env.ts";
import { problemResponse } from "../../http/openapi.ts";
import { exactJson, secured } from "../../http/route.ts";
import {
  createDestinationSchema,
  DestinationListSchema,
  DestinationSchema,
  ReplaySchema,
  TestResultSchema,
  updateDestinationSchema,
} from "./delivery.schema.ts";
import {
  createDestination,
  type DeliveryContext,
  deleteDestination,
  getDestination,
  listDestinations,
  replayDestination,
  setPaused,
  testDestination,
  updateDestination,
} from "./delivery.service.ts";

export type DeliveryDeps = DeliveryContext & { gate: Gate };

const idParam = z.object({ id: z.string().openapi({ example: "dst_01JDQ3Z8K4W6Y2N9R5T7V1X3B8" }) });
const notFound = { 404: problemResponse("No such destination for this tenant") };
const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const TAGS = ["destinations"];

export function registerDelivery(app: OpenAPIHono<AppEnv>, deps: DeliveryDeps): void {
  const create = secured(
    deps.gate,
    "audit:admin",
    {
      method: "post",
      path: "/v1/audit/destinations",
      operationId: "createDestination",
      tags: TAGS,
      summary: "Stream events to a SIEM",
      description:
        "Creates a destination: every event stored from now on that matches `filters` is sent to the receiver, in store order, at least once (each message carries its event id). " +
        "Credentials (a webhook's signing secret) come only from the ScaiVault secret named by `credentials_secret`; inline credentials are a 400. A receiver's host must be in EXPORT_ENDPOINT_ALLOWLIST.",
      request: {
        body: {
          required: true,
          content: { "application/json": { schema: createDestinationSchema(deps.now) } },
        },
      },
      responses: {
        201: {
          ...json(DestinationSchema, "Created"),
          links: Object.fromEntries(
            ["get", "update", "delete", "pause", "resume", "replay", "test"].map((op) => [
              `${op[0]?.toUpperCase()}${op.slice(1)}Destination`,
              { operationId: `${op}Destination`, parameters: { id: "$response.body#/destination_id" } },
            ]),
          ),
          headers: {
            Location: {
              required: true,
              description: "/v1/audit/destinations/{destination_id}",
              schema: { type: "string" },
            },
          },
        },
        415: problemResponse("Not application/json"),
      },
    },
    { cost: () => 2, middleware: [exactJson(inlineCredentials)] },
  );
  app.openapi(create, async (c) => {
    const d = await createDestination(deps, c.var.principal, c.req.valid("json"));
    c.header("Location", `/v1/audit/destinations/${d.destination_id}`);
    return c.json(d, 201);
  });

  const list = secured(deps.gate, "audit:admin", {
    method: "get",
    path: "/v1/audit/destinations",
    operationId: "listDestinations",
    tags: TAGS,
    summary: "List destinations, with their status",
    description: "The tenant's destinations (at most 100), oldest first.",
    responses: { 200: json(DestinationListSchema, "Destinations") },
  });
  app.openapi(list, async (c) =>
    c.json({ entries: await listDestinations(deps, c.var.principal.tenant) }, 200),
  );

  const get = secured(deps.gate, "audit:admin", {
    method: "get",
    path: "/v1/audit/destinations/{id}",
    operationId: "getDestination",
    tags: TAGS,
    summary: "A destination and its delivery status",
    request: { params: idParam },
    responses: { 200: json(DestinationSchema, "The destination"), ...notFound },
  });
  app.openapi(get, async (c) =>
    c.json(await getDestination(deps, c.var.principal.tenant, c.req.valid("param").id), 200),
  );

  const update = secured(
    deps.gate,
    "audit:admin",
    {
      method: "patch",
      path: "/v1/audit/destinations/{id}",
      operationId: "updateDestination",
      tags: TAGS,
      summary: "Change a destination",
      description:
        "Changes take effect at the next batch; the position stays (use replay to send events again).",
      request: {
        params: idParam,
        body: {
          required: true,
          content: { "application/json": { schema: updateDestinationSchema(deps.now) } },
        },
      },
      responses: {
        200: json(DestinationSchema, "The destination"),
        ...notFound,
        409: problemResponse("Changed meanwhile"),
        415: problemResponse("Not application/json"),
      },
    },
    { middleware: [exactJson(inlineCredentials)] },
  );
  app.openapi(update, async (c) =>
    c.json(await updateDestination(deps, c.var.principal, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  const remove = secured(deps.gate, "audit:admin", {
    method: "delete",
    path: "/v1/audit/destinations/{id}",
    operationId: "deleteDestination",
    tags: TAGS,
    summary: "Delete a destination",
    description: "Delivery stops within a poll interval; nothing more is sent.",
    request: { params: idParam },
    responses: { 204: { description: "Deleted" }, ...notFound },
  });
  app.openapi(remove, async (c) => {
    await deleteDestination(deps, c.var.principal, c.req.valid("param").id);
    return c.body(null, 204);
  });

  for (const [action, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    const route = secured(deps.gate, "audit:admin", {
      method: "post",
      path: `/v1/audit/destinations/{id}/${action}`,
      operationId: `${action}Destination`,
      tags: TAGS,
      summary: paused ? "Pause delivery" : "Resume delivery",
      description: paused
        ? "Nothing is sent while paused; the position stays, so resuming sends everything stored meanwhile (within retention)."
        : "Delivery carries on from the position it had.",
      request: { params: idParam },
      responses: { 200: json(DestinationSchema, "The destination"), ...notFound },
    });
    app.openapi(route, async (c) =>
      c.json(await setPaused(deps, c.var.principal, c.req.valid("param").id, paused), 200),
    );
  }

  const replay = secured(
    deps.gate,
    "audit:admin",
    {
      method: "post",
      path: "/v1/audit/destinations/{id}/replay",
      operationId: "replayDestination",
      tags: TAGS,
      summary: "Send events again from an instant or a position",
      description:
        "`from`: every matching event stored within retention with a timestamp at or after it is sent again, then delivery carries on. `position`: delivery goes back (or forward) to that position.",
      request: {
        params: idParam,
        body: { required: true, content: { "application/json": { schema: ReplaySchema } } },
      },
      responses: {
        200: json(DestinationSchema, "The destination"),
        ...notFound,
        409: problemResponse("Busy; try again"),
        415: problemResponse("Not application/json"),
      },
    },
    { cost: () => 2, middleware: [exactJson()] },
  );
  app.openapi(replay, async (c) =>
    c.json(await replayDestination(deps, c.var.principal, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  const test = secured(
    deps.gate,
    "audit:admin",
    {
      method: "post",
      path: "/v1/audit/destinations/{id}/test",
      operationId: "testDestination",
      tags: TAGS,
      summary: "Send one synthetic event",
      description:
        "Sends one synthetic event (id `test_…`, path `scaivault/destination-test`; not stored) with the destination's credentials and format, and reports what the receiver answered.",
      request: { params: idParam },
      responses: { 200: json(TestResultSchema, "What the receiver answered"), ...notFound },
    },
    { cost: () => 2 },
  );
  app.openapi(test, async (c) =>
    c.json(await testDestination(deps, c.var.principal.tenant, c.req.valid("param").id), 200),
  );
}
