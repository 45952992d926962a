import i18next from "i18next";
import { beforeAll, describe, expect, it } from "vitest";

import { en } from "../i18n/en";
import { backupSchema } from "./fixtures";
import { formSchema } from "./params";
import { check, paramsValidator } from "./validator";

const schema = formSchema(backupSchema);

beforeAll(async () => {
  await i18next.init({ lng: "en", resources: { en: { translation: en } } });
});

describe("check", () => {
  it("accepts a valid run", () => {
    expect(check(schema, { db_name: "orders", retention_days: 7, backup_key: "k" })).toEqual([]);
  });

  it("names every failing field at once", () => {
    const failures = check(schema, { db_name: "nope", retention_days: 366, notify_email: "x", extra: 1 });
    expect(failures.map((f) => `${f.field}:${f.keyword}`).sort()).toEqual([
      "backup_key:required",
      "db_name:enum",
      "extra:additional",
      "notify_email:pattern",
      "retention_days:maximum",
    ]);
  });

  it("tells integers from numbers and strings", () => {
    expect(check(schema, { db_name: "orders", backup_key: "k", retention_days: 1.5 }).map((f) => f.keyword)).toEqual([
      "type",
    ]);
    expect(check(schema, { db_name: "orders", backup_key: "k", retention_days: "7" }).map((f) => f.keyword)).toEqual([
      "type",
    ]);
  });

  it("counts characters, not UTF-16 units", () => {
    const short = { type: "string", maxLength: 2 };
    expect(check(short, "한국")).toEqual([]);
    expect(check(short, "😀😀")).toEqual([]);
    expect(check(short, "😀😀😀")).toHaveLength(1);
  });
});

describe("paramsValidator", () => {
  it("puts each message at its field for the form", () => {
    const { errorSchema, errors } = paramsValidator.validateFormData({ db_name: "orders", retention_days: 0 }, schema);
    expect(errorSchema).toEqual({
      backup_key: { __errors: ["is required"] },
      retention_days: { __errors: ["must be at least 1"] },
    });
    expect(errors.map((e) => e.property).sort()).toEqual([".backup_key", ".retention_days"]);
  });
});
