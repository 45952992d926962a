import { describe, expect, it } from "vitest";

import type { Rule } from "../../api/types";
import { type ChannelFields, type RuleFields, channelBody, eventKey, ruleBody, toggled } from "./bodies";

const typed: ChannelFields = {
  name: "chat",
  kind: "slack",
  url: "https://hooks.example.com/services/T/B/x",
  secret: "left from a webhook",
  smtpHost: "mail.example.com",
  smtpPort: "",
  smtpTls: "starttls",
  username: "",
  password: "",
  from: "sage@example.com",
  to: "a@example.com, b@example.com\nc@example.com",
  caCertificate: "  ",
};

describe("channelBody", () => {
  it("sends only the fields of the chosen kind", () => {
    expect(channelBody(typed)).toEqual({ name: "chat", kind: "slack", url: typed.url });
    expect(channelBody({ ...typed, kind: "webhook" })).toEqual({
      name: "chat",
      kind: "webhook",
      url: typed.url,
      secret: "left from a webhook",
    });
  });

  it("lists a mail's recipients and leaves out what is empty", () => {
    expect(channelBody({ ...typed, kind: "email" })).toEqual({
      name: "chat",
      kind: "email",
      smtp_host: "mail.example.com",
      smtp_port: null,
      smtp_tls: "starttls",
      username: null,
      password: null,
      from: "sage@example.com",
      to: ["a@example.com", "b@example.com", "c@example.com"],
      ca_certificate: null,
    });
    expect(channelBody({ ...typed, kind: "email", smtpPort: "2525" }).smtp_port).toBe(2525);
  });
});

const chosen: RuleFields = {
  name: "ends",
  event: "run.finished",
  channelId: "c1",
  moduleId: "m1",
  tool: "prowler",
  statuses: ["failed"],
  minSeverity: "high",
  daysBefore: 7,
  enabled: true,
};

describe("ruleBody", () => {
  it("sends only the filters of the chosen event", () => {
    expect(ruleBody(chosen)).toEqual({
      name: "ends",
      event: "run.finished",
      channel_id: "c1",
      enabled: true,
      module_id: "m1",
      statuses: ["failed"],
    });
    expect(ruleBody({ ...chosen, event: "findings.new", tool: "" })).toEqual({
      name: "ends",
      event: "findings.new",
      channel_id: "c1",
      enabled: true,
      tool: null,
      min_severity: "high",
    });
    expect(ruleBody({ ...chosen, event: "acceptance.expiring", channelId: "" })).toEqual({
      name: "ends",
      event: "acceptance.expiring",
      channel_id: null,
      enabled: true,
      days_before: 7,
    });
  });
});

describe("toggled", () => {
  it("turns a rule as read at its version", () => {
    const rule: Rule = {
      id: "r1",
      name: "scan ends",
      channel_id: "c1",
      event: "scan.finished",
      statuses: [],
      tool: null,
      enabled: true,
      version: 3,
      updated_at: "2025-01-01T00:00:00Z",
    };
    expect(toggled(rule)).toEqual({
      name: "scan ends",
      event: "scan.finished",
      channel_id: "c1",
      module_id: null,
      tool: null,
      statuses: [],
      min_severity: null,
      days_before: null,
      enabled: false,
      version: 3,
    });
  });
});

describe("eventKey", () => {
  it("names an event without the dot i18next reads as nesting", () => {
    expect(eventKey("findings.new")).toBe("notifications.events.findings_new");
  });
});
