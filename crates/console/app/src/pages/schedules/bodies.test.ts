import { describe, expect, it } from "vitest";

import type { Schedule } from "../../api/types";
import { NEW_SCAN } from "../../components/ScanFields";
import { type ScheduleFields, scanOf, scheduleBody, selectionText } from "./bodies";

const typed: ScheduleFields = {
  name: "nightly",
  cron: "0 2 * * *",
  timezone: "Asia/Seoul",
  missed: "skip",
  kind: "run",
  moduleId: "3f1c9a52-8a8e-4a57-9d43-111111111111",
  params: '{"db_name": "orders"}',
  scan: {
    ...NEW_SCAN,
    accounts: "env=prod\nteam = web",
    regions: "us-east-1, eu-west-1",
    params: '{"policy": "policies: []"}',
    cap: 2,
  },
};

describe("scheduleBody", () => {
  it("sends a module's run without any scan", () => {
    expect(scheduleBody(typed)).toEqual({
      name: "nightly",
      cron: "0 2 * * *",
      timezone: "Asia/Seoul",
      missed_policy: "skip",
      module_id: typed.moduleId,
      params: { db_name: "orders" },
    });
    expect(scheduleBody({ ...typed, moduleId: "" })).toMatchObject({ module_id: null });
  });

  it("sends a scan without the module's fields", () => {
    expect(scheduleBody({ ...typed, kind: "scan" })).toEqual({
      name: "nightly",
      cron: "0 2 * * *",
      timezone: "Asia/Seoul",
      missed_policy: "skip",
      scan: {
        tool: "custodian",
        account_tags: { env: "prod", team: "web" },
        regions: ["us-east-1", "eu-west-1"],
        params: { policy: "policies: []" },
        max_concurrency: 2,
      },
    });
  });

  it("names accounts by id, and leaves regions to the accounts when none are typed", () => {
    const scan = { ...typed.scan, by: "ids" as const, accounts: "111111111111, 222222222222", regions: " " };
    expect(scheduleBody({ ...typed, kind: "scan", scan }).scan).toEqual({
      tool: "custodian",
      account_ids: ["111111111111", "222222222222"],
      params: { policy: "policies: []" },
      max_concurrency: 2,
    });
  });

  it("refuses options that are not JSON", () => {
    expect(() => scheduleBody({ ...typed, kind: "scan", scan: { ...typed.scan, params: "{" } })).toThrow();
  });
});

describe("scanOf", () => {
  const schedule = {
    kind: "scan",
    params: { tool: "prowler", account_ids: null, account_tags: { env: "prod" }, regions: null, params: {} },
  } as unknown as Schedule;

  it("reads a scan schedule's request, and no scan of a run's", () => {
    expect(scanOf(schedule)?.tool).toBe("prowler");
    expect(scanOf({ ...schedule, kind: "run" })).toBeUndefined();
  });

  it("says which accounts, by tags or by ids", () => {
    expect(selectionText(scanOf(schedule)!)).toBe("env=prod");
    expect(selectionText({ account_ids: ["111111111111", "222222222222"] })).toBe("111111111111, 222222222222");
  });
});
