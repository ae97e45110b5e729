/**
 * The OCSF oracle: JSON Schemas of OCSF 1.8.0's API Activity and Entity Management classes
 * (datetime profile), generated from the official OCSF export by the PyPI package
 * ocsf-json-schema (test/fixtures/ocsf/generate.py), checked with ajv (draft 2020-12) — not the
 * mapper's own types.
 */
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { OCSF_VERSION } from "../../src/formats/ocsf.ts";

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const schemaOf = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/ocsf/${OCSF_VERSION}/${name}.schema.json`, import.meta.url), "utf8"),
  );

/** By class_uid. */
export const VALIDATORS: Record<number, ValidateFunction> = {
  6003: ajv.compile(schemaOf("api_activity")),
  3004: ajv.compile(schemaOf("entity_management")),
};

/** Why `o` is not a valid instance of its class (by class_uid): empty when it is. */
export function ocsfProblems(o: Record<string, unknown>): string[] {
  const validate = VALIDATORS[o.class_uid as number];
  if (!validate) return [`no schema for class_uid ${String(o.class_uid)}`];
  if (validate(o)) return [];
  return (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath} ${e.message ?? ""}`);
}
