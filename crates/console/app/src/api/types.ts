// The answers of the HTTP API this console uses (/openapi.json has them all).

export type Uuid = string;
export type Time = string;

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Me {
  id: Uuid;
  email: string;
  roles: string[];
  groups: string[];
}

export type SignIn =
  | { mode: "demo_header"; demo_users: { email: string; admin: boolean }[] }
  | { mode: "oidc"; issuer: string; client_id: string | null; scopes: string };

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldProblem[] };
}

export interface Script {
  id: Uuid;
  path: string;
  interpreter: string;
  sha256: string;
  description: string;
  created_at: Time;
}

export interface ModuleSummary {
  id: Uuid;
  name: string;
  latest_version: number;
  created_at: Time;
}

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

export interface Approval {
  approver: string;
  decision: "approve" | "reject" | string;
  comment: string;
  decided_at: Time;
}

export interface Execution {
  id: Uuid;
  module_id: Uuid;
  module_version: number;
  requested_by: string;
  params: Record<string, unknown>;
  status: Status;
  reason: string | null;
  exit_code: number | null;
  created_at: Time;
  started_at: Time | null;
  finished_at: Time | null;
  output_bytes: number;
  truncated: boolean;
  approvals_required: number;
  approval_expires_at: Time | null;
  approvals: Approval[];
}

export interface Artifact {
  name: string;
  size: number;
  sha256: string;
  content_type: string;
  url: string;
  expires_at: Time;
}

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

export interface Tool {
  name: ToolName;
  module_id: Uuid | null;
  available: boolean;
  unavailable_reason: string | null;
  tool_version: string | null;
  latest_execution_id: Uuid | null;
}

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

export interface Evidence {
  id: Uuid;
  status: "pending" | "building" | "ready" | "failed";
  error: string | null;
  title: string;
  lang: string;
  execution_ids: Uuid[];
  tools: string[] | null;
  created_by: string;
  created_at: Time;
  finished_at: Time | null;
  pdf: Artifact | null;
  summary_file: Artifact | null;
}
