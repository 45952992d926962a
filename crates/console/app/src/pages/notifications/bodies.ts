// What the notification forms send. The API refuses a field that does not belong to a
// channel's kind or a rule's event, so only the kind's and the event's fields go.

import {
  type ChannelBody,
  type ChannelKind,
  type NotifyEvent,
  type Rule,
  type RuleBody,
  SCAN_ENDS,
  STATUSES,
  isTerminal,
} from "../../api/types";
import { listOf } from "../../components/AccountForm";

/** A channel as typed in the form: every kind's inputs, as text. */
export interface ChannelFields {
  name: string;
  kind: ChannelKind;
  url: string;
  secret: string;
  smtpHost: string;
  smtpPort: string;
  smtpTls: string;
  username: string;
  password: string;
  from: string;
  to: string;
  caCertificate: string;
}

/** The fields of the API each kind takes: the form shows their problems beside them. */
export const CHANNEL_FIELDS: Record<ChannelKind, string[]> = {
  webhook: ["name", "kind", "url", "secret"],
  slack: ["name", "kind", "url"],
  email: ["name", "kind", "smtp_host", "smtp_port", "smtp_tls", "username", "password", "from", "to", "ca_certificate"],
};

export function channelBody(f: ChannelFields): ChannelBody {
  switch (f.kind) {
    case "webhook":
      return { name: f.name, kind: f.kind, url: f.url, secret: f.secret };
    case "slack":
      return { name: f.name, kind: f.kind, url: f.url };
    case "email":
      return {
        name: f.name,
        kind: f.kind,
        smtp_host: f.smtpHost,
        // Empty: the API's default for the encryption (587 or 465).
        smtp_port: f.smtpPort ? Number(f.smtpPort) : null,
        smtp_tls: f.smtpTls,
        username: f.username || null,
        password: f.password || null,
        from: f.from,
        to: listOf(f.to),
        ca_certificate: f.caCertificate.trim() || null,
      };
  }
}

/** The ends of a run a rule may choose among. */
export const RUN_ENDS = STATUSES.filter(isTerminal);

/** The filters each event takes. */
export const FILTERS: Record<
  NotifyEvent,
  { module?: boolean; tool?: boolean; statuses?: readonly string[]; severity?: boolean; days?: boolean }
> = {
  "run.finished": { module: true, statuses: RUN_ENDS },
  "approval.requested": { module: true },
  "scan.finished": { tool: true, statuses: SCAN_ENDS },
  "findings.new": { tool: true, severity: true },
  "acceptance.expiring": { days: true },
};

/** The fields of the API a rule's form shows beside its inputs. */
export const RULE_FIELDS = [
  "name",
  "event",
  "channel_id",
  "module_id",
  "tool",
  "statuses",
  "min_severity",
  "days_before",
];

/** A rule as chosen in the form. */
export interface RuleFields {
  name: string;
  event: NotifyEvent;
  channelId: string;
  moduleId: string;
  tool: string;
  statuses: string[];
  minSeverity: string;
  daysBefore: number;
  enabled: boolean;
}

export function ruleBody(f: RuleFields): RuleBody {
  const takes = FILTERS[f.event];
  return {
    name: f.name,
    event: f.event,
    channel_id: f.channelId || null,
    enabled: f.enabled,
    ...(takes.module ? { module_id: f.moduleId || null } : {}),
    ...(takes.tool ? { tool: f.tool || null } : {}),
    ...(takes.statuses ? { statuses: f.statuses } : {}),
    ...(takes.severity ? { min_severity: f.minSeverity } : {}),
    ...(takes.days ? { days_before: f.daysBefore } : {}),
  };
}

/** The rule as read, turned on or off, at the version read. */
export function toggled(rule: Rule): RuleBody {
  return {
    name: rule.name,
    event: rule.event,
    channel_id: rule.channel_id,
    module_id: rule.module_id ?? null,
    tool: rule.tool ?? null,
    statuses: rule.statuses,
    min_severity: rule.min_severity ?? null,
    days_before: rule.days_before ?? null,
    enabled: !rule.enabled,
    version: rule.version,
  };
}

/** The dictionary key of an event's name (`run.finished` → `notifications.events.run_finished`). */
export const eventKey = (event: string) => `notifications.events.${event.replace(".", "_")}`;
