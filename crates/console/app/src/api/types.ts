// The answers of the HTTP API this console uses, from the types generated out of the
// api's own /openapi.json (schema.d.ts; a test of the api checks they match it). Where
// the document is looser than the console needs (free-form JSON, enums the api writes
// as strings), the console's narrower type is said here.

import type { components } from "./schema";

type Schemas = components["schemas"];

export type Uuid = string;
export type Time = string;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Me = Schemas["MeView"];

export type SignIn =
  | { mode: "demo_header"; demo_users: { email: string; admin: boolean }[] }
  | { mode: "oidc"; issuer: string; client_id: string | null; scopes: string };

export type FieldProblem = Schemas["FieldProblem"];

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldProblem[] };
}

export type Script = Schemas["ScriptView"];

export type ModuleSummary = Schemas["ModuleSummaryView"];

/** How many days a module's runs keep their log, artifacts and finding history:
 * its own (`days`), or the deployment's default when `days` is null. */
export type Retention = Schemas["RetentionView"];

export interface RawParam {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "enum" | "secret";
  [option: string]: unknown;
}

export interface ModuleVersion {
  id: Uuid;
  name: string;
  version: number;
  latest_version: number;
  description: string;
  script_id: Uuid;
  params: RawParam[];
  args: unknown[];
  env: Record<string, string>;
  limits: Record<string, number>;
  network: string;
  image: string;
  credentials: string;
  approval: { required: number };
  params_schema: JsonSchema;
  permissions: { run: boolean; view: boolean };
  retired_at: Time | null;
  runnable_versions: number[];
  retention: Retention;
  created_at: Time;
  version_created_at: Time;
}

export type JsonSchema = { [keyword: string]: unknown };

export interface Assignment {
  user?: string;
  group?: string;
  permissions: ("run" | "view")[];
}

export const STATUSES = [
  "awaiting_approval",
  "queued",
  "running",
  "succeeded",
  "failed",
  "timed_out",
  "cancelled",
  "rejected",
  "lost",
] as const;
export type Status = (typeof STATUSES)[number];

export function isTerminal(status: Status): boolean {
  return !["awaiting_approval", "queued", "running"].includes(status);
}

export type Approval = Schemas["ApprovalView"];

export type Execution = Omit<Schemas["ExecutionView"], "params"> & {
  params: Record<string, unknown>;
};

export type Artifact = Schemas["ArtifactView"];

export interface LogLine {
  seq: number;
  stream: "stdout" | "stderr" | string;
  ts: Time;
  line: string;
}

export interface LogEnd {
  status: Status;
  exit_code: number | null;
}

export interface AuditEvent {
  id: number;
  at: Time;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  broken_at?: number;
  reason?: string;
}

export const TOOLS = ["prowler", "scout", "steampipe", "custodian"] as const;
export type ToolName = (typeof TOOLS)[number];

export type Tool = Omit<Schemas["ToolView"], "name"> & { name: ToolName };

/** Finding counts by status, then by severity. */
export type Counts = Record<string, Record<string, number>>;

export interface LatestRun {
  tool: ToolName;
  tool_version: string | null;
  counts: Counts;
  finished_at: Time;
  execution: Execution;
  artifacts: Artifact[];
}

export const SEVERITIES = ["critical", "high", "medium", "low", "informational", "unknown"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Where a finding stands after its tool's runs so far. */
export const FINDING_STATES = ["new", "open", "reopened", "accepted", "fixed"] as const;
export type FindingState = (typeof FINDING_STATES)[number];

export type Finding = Omit<Schemas["FindingView"], "state" | "severity" | "tool"> & {
  state: FindingState;
  severity: Severity;
  tool: ToolName;
};

export type FindingEvent = Omit<Schemas["FindingEventView"], "from" | "to" | "changes"> & {
  from?: FindingState | null;
  to: FindingState;
  changes?: Record<string, { from: string; to: string }> | null;
};

/** A risk acceptance: who asked, who decided, why and until when. */
export type Acceptance = Schemas["AcceptanceView"];
export type AcceptanceRequest = Schemas["AcceptanceBody"];

export type FindingDetail = Finding & {
  history: FindingEvent[];
  acceptance?: Acceptance | null;
};

/** Where a finding went from one run of its tool to a later one. */
export const CHANGES = ["new", "reopened", "still_open", "fixed", "not_covered"] as const;
export type Change = (typeof CHANGES)[number];

export type FindingDiff = Pick<Schemas["DiffView"], "from" | "to"> & { tool: ToolName } & Record<
    Change,
    { total: number; findings: Finding[] }
  >;

/** One day of a tool's findings: how many stood in each state, by severity, at its end. */
export type TrendDay = Omit<Schemas["DayView"], "counts"> & {
  counts: Partial<Record<FindingState, Partial<Record<Severity, number>>>>;
};

export type FindingTrend = Omit<Schemas["TrendView"], "days" | "tool"> & { tool: ToolName; days: TrendDay[] };

export interface Evidence {
  id: Uuid;
  status: "pending" | "building" | "ready" | "failed";
  error: string | null;
  title: string;
  lang: string;
  execution_ids: Uuid[];
  tools: string[] | null;
  compliance: string | null;
  created_by: string;
  created_at: Time;
  finished_at: Time | null;
  pdf: Artifact | null;
  summary_file: Artifact | null;
  /** The signed evidence pack, when the building worker holds a signing key. */
  pack?: Artifact | null;
}

/** A compliance framework the scanner image holds. */
export type Framework = Schemas["FrameworkView"];

/** A cloud account of the inventory; its external id is never shown, only whether set. */
export type CloudAccount = Schemas["AccountView"];
export type AccountDetail = Schemas["AccountDetail"] & {
  versions: { version: number; name: string; role: string; changed_at: string; changed_by?: string | null }[];
};
export type AccountBody = Schemas["AccountBody"];
export type AccountImport = Schemas["ImportView"];
export type ImportBody = Schemas["ImportBody"];

/** A scan: one tool over many accounts, one run each, and where it stands. */
export type Scan = Schemas["ScanView"];
export type ScanTarget = Schemas["TargetView"];
export type ScanBody = Schemas["ScanBody"];

/** A schedule: a module's run or a scan at each fire time of a cron expression. */
export type Schedule = Schemas["ScheduleView"];
export type ScheduleBody = Schemas["ScheduleBody"];

/** Where notifications go: a signed webhook, a Slack-compatible webhook, or mail. */
export const CHANNEL_KINDS = ["webhook", "slack", "email"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** What a channel shows of where it sends, never its secret: a webhook's URL, a Slack
 * webhook's host, or the mail server with its sender and recipients. */
export interface ChannelConfig {
  url?: string;
  host?: string;
  port?: number;
  tls?: string;
  username?: string | null;
  from?: string;
  to?: string[];
  ca_certificate?: string | null;
}

export type Channel = Omit<Schemas["ChannelView"], "config"> & { config: ChannelConfig };
export type Delivery = Schemas["DeliveryView"];
export type ChannelDetail = Channel & { deliveries: Delivery[] };
export type ChannelBody = Schemas["ChannelBody"];
export type TestQueued = Schemas["TestQueued"];

/** What a rule tells of. */
export const EVENTS = [
  "run.finished",
  "approval.requested",
  "scan.finished",
  "findings.new",
  "acceptance.expiring",
] as const;
export type NotifyEvent = (typeof EVENTS)[number];

/** The ends a scan can have. */
export const SCAN_ENDS = ["succeeded", "failed", "cancelled"] as const;

/** A rule: which event, told to which channel, narrowed by the event's filters. */
export type Rule = Schemas["RuleView"];
export type RuleBody = Schemas["RuleBody"];
