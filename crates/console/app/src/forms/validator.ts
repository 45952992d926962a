// The run form's checks in the browser, without Ajv: Ajv compiles schemas to code with
// `new Function`, which the console's Content-Security-Policy forbids. A module's
// parameter schema uses a small, fixed set of keywords (the api writes it), and this
// checks exactly those; the server checks everything again.

import type { ErrorSchema, RJSFValidationError, ValidatorType } from "@rjsf/utils";
import i18next from "i18next";

type Schema = { [keyword: string]: unknown };

export interface Failure {
  /** The property's path, `retention_days` (empty for the whole object). */
  field: string;
  keyword: string;
  message: string;
}

/** Every failure of `value` against `schema`, not only the first. */
export function check(schema: Schema, value: unknown, field = ""): Failure[] {
  const failures: Failure[] = [];
  const fail = (keyword: string, vars: Record<string, unknown> = {}) =>
    failures.push({ field, keyword, message: i18next.t(`validation.${keyword}`, vars) });

  for (const part of (schema["allOf"] as Schema[] | undefined) ?? []) failures.push(...check(part, value, field));
  if (value === undefined) return failures;

  const type = schema["type"];
  if (typeof type === "string" && !hasType(value, type)) {
    fail("type", { type: i18next.t(`validation.types.${type}`, { defaultValue: type }) });
    return failures;
  }
  const allowed = schema["enum"];
  if (Array.isArray(allowed) && !allowed.includes(value)) fail("enum", { values: allowed.join(", ") });
  if (typeof value === "number") {
    if (typeof schema["minimum"] === "number" && value < schema["minimum"])
      fail("minimum", { limit: schema["minimum"] });
    if (typeof schema["maximum"] === "number" && value > schema["maximum"])
      fail("maximum", { limit: schema["maximum"] });
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof schema["minLength"] === "number" && length < schema["minLength"])
      fail("minLength", { limit: schema["minLength"] });
    if (typeof schema["maxLength"] === "number" && length > schema["maxLength"])
      fail("maxLength", { limit: schema["maxLength"] });
    const pattern = schema["pattern"];
    if (typeof pattern === "string") {
      const regex = compile(pattern);
      if (regex && !regex.test(value)) fail("pattern");
    }
  }
  if (type === "object" && value !== null && typeof value === "object" && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const properties = (schema["properties"] ?? {}) as Record<string, Schema>;
    for (const name of (schema["required"] as string[] | undefined) ?? []) {
      if (object[name] === undefined || object[name] === "") {
        failures.push({ field: join(field, name), keyword: "required", message: i18next.t("validation.required") });
      }
    }
    for (const [name, item] of Object.entries(object)) {
      const property = properties[name];
      if (property) failures.push(...check(property, item, join(field, name)));
      else if (schema["additionalProperties"] === false) {
        failures.push({ field: join(field, name), keyword: "additional", message: i18next.t("validation.additional") });
      }
    }
  }
  return failures;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    default:
      return true;
  }
}

const compiled = new Map<string, RegExp | null>();
function compile(pattern: string): RegExp | null {
  if (!compiled.has(pattern)) {
    try {
      compiled.set(pattern, new RegExp(pattern, "u"));
    } catch {
      compiled.set(pattern, null);
    }
  }
  return compiled.get(pattern) ?? null;
}

const join = (parent: string, name: string) => (parent ? `${parent}.${name}` : name);

/** `check` in the shape the form library asks of a validator. */
export const paramsValidator: ValidatorType = {
  validateFormData(formData, schema) {
    const failures = check(schema as Schema, formData ?? {});
    const errors: RJSFValidationError[] = failures.map((f) => ({
      name: f.keyword,
      property: f.field ? `.${f.field}` : "",
      message: f.message,
      stack: f.field ? `${f.field}: ${f.message}` : f.message,
    }));
    const errorSchema: Record<string, unknown> = {};
    for (const f of failures) {
      let node = errorSchema as Record<string, unknown>;
      for (const part of f.field ? f.field.split(".") : []) {
        node = (node[part] ??= {}) as Record<string, unknown>;
      }
      ((node["__errors"] ??= []) as string[]).push(f.message);
    }
    return { errors, errorSchema: errorSchema as ErrorSchema };
  },
  isValid(schema, formData) {
    return check(schema as Schema, formData).length === 0;
  },
  rawValidation<Result>(schema: object, formData?: unknown) {
    return { errors: check(schema as Schema, formData) as Result[] };
  },
};

/** The browser's checks of a run's parameters, placed like the server's errors;
 * `undefined` when they pass. */
export function browserErrors(schema: Schema, params: Record<string, unknown>): ErrorSchema | undefined {
  const { errors, errorSchema } = paramsValidator.validateFormData(params, schema);
  return errors.length > 0 ? errorSchema : undefined;
}
