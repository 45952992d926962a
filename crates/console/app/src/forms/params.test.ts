import { describe, expect, it } from "vitest";

import { backupSchema } from "./fixtures";
import { formSchema, formUi, placeErrors, runParams } from "./params";

describe("formSchema", () => {
  it("drops the 2020-12 marker and patterns JavaScript cannot compile", () => {
    const schema = formSchema(backupSchema);
    expect(schema["$schema"]).toBeUndefined();
    const properties = schema["properties"] as Record<string, Record<string, unknown>>;
    expect(properties["notify_email"]!["allOf"]).toEqual([
      { pattern: "^[^\\p{Cc}]*$" },
      { pattern: "^[^@\\s]+@[^@\\s]+$" },
    ]);
    expect(properties["note"]!["allOf"]).toEqual([]);
    expect(properties["retention_days"]).toEqual({ type: "integer", minimum: 1, maximum: 365, default: 7 });
    // The module's own schema is left as it was.
    expect(backupSchema.$schema).toBeDefined();
  });
});

describe("formUi", () => {
  it("draws secrets as password fields browsers do not fill", () => {
    const ui = formUi(backupSchema);
    expect(ui["backup_key"]).toEqual({ "ui:widget": "password", "ui:autocomplete": "new-password" });
    expect(ui["db_name"]).toBeUndefined();
    expect(ui["ui:submitButtonOptions"]).toEqual({ norender: true });
  });

  it("draws multi-line strings as text areas", () => {
    const ui = formUi(backupSchema, [{ name: "note", type: "string", multiline: true }]);
    expect(ui["note"]).toEqual({ "ui:widget": "textarea", "ui:options": { rows: 10 } });
  });
});

describe("placeErrors", () => {
  const fields = [
    { field: "params.retention_days", message: "must be at most 365" },
    { field: "params.retention_days", message: "must be an integer" },
    { field: "params.backup_key", message: "is required" },
    { field: "params.unknown", message: "is not a parameter of this module" },
    { field: "version", message: "version 1 is retired" },
  ];

  it("puts every field's errors at its field and keeps the rest", () => {
    const { byField, elsewhere } = placeErrors(fields, backupSchema, "params.");
    expect(byField).toEqual({
      retention_days: { __errors: ["must be at most 365", "must be an integer"] },
      backup_key: { __errors: ["is required"] },
    });
    expect(elsewhere.map((f) => f.field)).toEqual(["params.unknown", "version"]);
  });

  it("reads the flat names of tool runs", () => {
    const { byField, elsewhere } = placeErrors([{ field: "db_name", message: "bad" }], backupSchema, "");
    expect(byField).toEqual({ db_name: { __errors: ["bad"] } });
    expect(elsewhere).toEqual([]);
  });
});

describe("runParams", () => {
  it("leaves out empty optional fields and keeps falsy values that mean something", () => {
    const schema = { properties: { db_name: {}, notify_email: {}, retention_days: {}, dry: {}, x: {} } };
    expect(
      runParams({ db_name: "orders", notify_email: "", retention_days: 0, dry: false, x: undefined }, schema),
    ).toEqual({
      db_name: "orders",
      retention_days: 0,
      dry: false,
    });
    expect(runParams(undefined, schema)).toEqual({});
  });

  it("leaves out what another version's form left behind", () => {
    expect(runParams({ db_name: "orders", gone: "x" }, backupSchema)).toEqual({ db_name: "orders" });
  });
});
