// From a module's `params_schema` (JSON Schema 2020-12, written by the api) to the run
// form: the schema the form validates with in the browser, how each field is drawn,
// and where each of the server's field errors is shown. The server stays the judge:
// the browser's checks only spare a round trip.

import type { ErrorSchema, UiSchema } from "@rjsf/utils";

import type { FieldProblem, JsonSchema, RawParam } from "../api/types";

type Schema = { [keyword: string]: unknown };

/** The schema for the browser's validator: draft-07 keywords only, patterns that
 * JavaScript cannot compile dropped (the server still checks them). */
export function formSchema(paramsSchema: JsonSchema): Schema {
  const copy = structuredClone(paramsSchema) as Schema;
  delete copy["$schema"];
  return withUsablePatterns(copy) as Schema;
}

function withUsablePatterns(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(withUsablePatterns).filter((item) => item !== DROPPED);
  }
  if (node === null || typeof node !== "object") return node;
  const out: Schema = {};
  for (const [key, value] of Object.entries(node as Schema)) {
    if (key === "pattern" && typeof value === "string" && !compiles(value)) continue;
    out[key] = withUsablePatterns(value);
  }
  // An `allOf` member that held only an unusable pattern is dropped whole.
  if (Object.keys(out).length === 0 && Object.keys(node as Schema).length > 0) return DROPPED;
  return out;
}

const DROPPED = Symbol("dropped");

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** How each parameter is drawn: secrets as password fields that browsers do not
 * remember, multi-line strings (a Custodian policy) as text areas. */
export function formUi(paramsSchema: JsonSchema, declared: RawParam[] = []): UiSchema {
  const ui: UiSchema = { "ui:submitButtonOptions": { norender: true } };
  const multiline = new Set(declared.filter((p) => p["multiline"] === true).map((p) => p.name));
  const properties = (paramsSchema["properties"] ?? {}) as Record<string, Schema>;
  for (const [name, property] of Object.entries(properties)) {
    if (property["writeOnly"] === true || property["format"] === "password") {
      ui[name] = { "ui:widget": "password", "ui:autocomplete": "new-password" };
    } else if (multiline.has(name)) {
      ui[name] = { "ui:widget": "textarea", "ui:options": { rows: 10 } };
    }
  }
  return ui;
}

/** The server's field errors where the form shows them: `params.retention_days`
 * (module runs) or `retention_days` (tool runs, flat) at that field; the rest
 * (`params`, `version`, `body`) in the returned list for the form's own place. */
export function placeErrors(
  fields: FieldProblem[],
  paramsSchema: JsonSchema,
  prefix: "params." | "",
): { byField: ErrorSchema; elsewhere: FieldProblem[] } {
  const names = new Set(Object.keys((paramsSchema["properties"] ?? {}) as Schema));
  const byField: Record<string, { __errors: string[] }> = {};
  const elsewhere: FieldProblem[] = [];
  for (const problem of fields) {
    const name = problem.field.startsWith(prefix) ? problem.field.slice(prefix.length) : undefined;
    if (name !== undefined && names.has(name)) {
      (byField[name] ??= { __errors: [] }).__errors.push(problem.message);
    } else {
      elsewhere.push(problem);
    }
  }
  return { byField: byField as ErrorSchema, elsewhere };
}

/** What the form holds, as the run request's `params`: empty optional fields left
 * out so the module's defaults and optional groups apply, and so are values of
 * parameters this schema does not have (left from another version's form). */
export function runParams(
  formData: Record<string, unknown> | undefined,
  paramsSchema: JsonSchema,
): Record<string, unknown> {
  const declared = (paramsSchema["properties"] ?? {}) as Schema;
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(formData ?? {})) {
    if (value === undefined || value === null || value === "" || !(name in declared)) continue;
    params[name] = value;
  }
  return params;
}
