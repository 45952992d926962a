// One typed way to call the API: every request carries the session's credentials,
// every failure becomes an ApiError holding the server's code, message and fields.

import type {
  AccountBody,
  AccountDetail,
  AccountImport,
  Acceptance,
  AcceptanceRequest,
  Artifact,
  Assignment,
  AuditEvent,
  ChainReport,
  Channel,
  ChannelBody,
  ChannelDetail,
  ErrorBody,
  Evidence,
  Execution,
  FieldProblem,
  Finding,
  FindingDetail,
  FindingDiff,
  FindingTrend,
  Framework,
  ImportBody,
  LatestRun,
  Me,
  ModuleSummary,
  ModuleVersion,
  Page,
  Rule,
  RuleBody,
  Scan,
  ScanBody,
  Schedule,
  ScheduleBody,
  Script,
  SignIn,
  CloudAccount,
  TestQueued,
  Tool,
  ToolName,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }

  /** The message for one field (`params.retention_days`), if the server named it. */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.field === field)?.message;
  }
}

/** Adds the signed-in user's credentials to a request's headers. */
export type Credentials = () => Promise<Record<string, string>>;

type Query = Record<string, string | number | undefined | null>;

export class Api {
  constructor(
    private readonly credentials: Credentials,
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  /** A raw authenticated request: the log stream and text download use it. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(await this.credentials())) {
      headers.set(name, value);
    }
    const response = await fetch(path, { ...init, headers, credentials: "omit" });
    if (response.status === 401) this.onUnauthorized();
    return response;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers = { ...init.headers, "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const response = await this.fetch(path, init);
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  me = () => this.call<Me>("GET", "/api/v1/me");

  scripts = (cursor?: string) => this.call<Page<Script>>("GET", withQuery("/api/v1/scripts", { cursor, limit: 100 }));
  registerScript = (body: { path: string; interpreter: string; description: string }) =>
    this.call<Script>("POST", "/api/v1/scripts", body);

  modules = () => this.call<Page<ModuleSummary>>("GET", withQuery("/api/v1/modules", { limit: 500 }));
  module = (id: string) => this.call<ModuleVersion>("GET", `/api/v1/modules/${enc(id)}`);
  moduleVersion = (id: string, version: number) =>
    this.call<ModuleVersion>("GET", `/api/v1/modules/${enc(id)}/versions/${version}`);
  createModule = (definition: unknown) => this.call<ModuleVersion>("POST", "/api/v1/modules", definition);
  createVersion = (id: string, definition: unknown) =>
    this.call<{ version: number }>("POST", `/api/v1/modules/${enc(id)}/versions`, definition);
  retireVersion = (id: string, version: number) =>
    this.call<unknown>("POST", `/api/v1/modules/${enc(id)}/versions/${version}/retire`);
  assignments = (id: string) =>
    this.call<{ assignments: Assignment[] }>("GET", `/api/v1/modules/${enc(id)}/assignments`);
  replaceAssignments = (id: string, assignments: Assignment[]) =>
    this.call<{ assignments: Assignment[] }>("PUT", `/api/v1/modules/${enc(id)}/assignments`, { assignments });
  /** `null` returns the module to the deployment's default. */
  setRetention = (id: string, days: number | null) =>
    this.call<ModuleVersion>("PUT", `/api/v1/modules/${enc(id)}/retention`, { days });

  submit = (moduleId: string, params: unknown, version?: number) =>
    this.call<Execution>(
      "POST",
      `/api/v1/modules/${enc(moduleId)}/executions`,
      version ? { params, version } : { params },
    );
  executions = (filter: Query) => this.call<Page<Execution>>("GET", withQuery("/api/v1/executions", filter));
  execution = (id: string) => this.call<Execution>("GET", `/api/v1/executions/${enc(id)}`);
  cancel = (id: string) => this.call<unknown>("POST", `/api/v1/executions/${enc(id)}/cancel`);
  approve = (id: string, comment: string) =>
    this.call<Execution>("POST", `/api/v1/executions/${enc(id)}/approve`, { comment });
  reject = (id: string, comment: string) =>
    this.call<Execution>("POST", `/api/v1/executions/${enc(id)}/reject`, { comment });
  artifacts = (id: string) => this.call<{ items: Artifact[] }>("GET", `/api/v1/executions/${enc(id)}/artifacts`);

  tools = () => this.call<{ items: Tool[] }>("GET", "/api/v1/tools");
  latestRun = (tool: ToolName) => this.call<LatestRun>("GET", `/api/v1/tools/${tool}/runs/latest`);
  runTool = (tool: ToolName, params: Record<string, unknown>) =>
    this.call<Execution>("POST", `/api/v1/tools/${tool}/runs`, params);
  evidenceList = (filter: Query) => this.call<Page<Evidence>>("GET", withQuery("/api/v1/evidence", filter));
  frameworks = () => this.call<{ items: Framework[] }>("GET", "/api/v1/compliance/frameworks");
  requestEvidence = (body: {
    tools?: string[];
    execution_ids?: string[];
    scan_id?: string;
    title?: string;
    lang: string;
    compliance?: string;
  }) => this.call<Evidence>("POST", "/api/v1/evidence", body);
  evidence = (id: string) => this.call<Evidence>("GET", `/api/v1/evidence/${enc(id)}`);

  findings = (filter: Query) => this.call<Page<Finding>>("GET", withQuery("/api/v1/findings", filter));
  finding = (fingerprint: string) => this.call<FindingDetail>("GET", `/api/v1/findings/${enc(fingerprint)}`);
  findingDiff = (from: string, to: string) =>
    this.call<FindingDiff>("GET", withQuery("/api/v1/findings/diff", { from, to, limit: 100 }));
  findingTrend = (tool: ToolName, days: number, account?: string) =>
    this.call<FindingTrend>("GET", withQuery("/api/v1/findings/trends", { tool, days, account }));

  acceptances = (filter: Query) => this.call<Page<Acceptance>>("GET", withQuery("/api/v1/risk-acceptances", filter));
  requestAcceptance = (body: AcceptanceRequest) => this.call<Acceptance>("POST", "/api/v1/risk-acceptances", body);
  decideAcceptance = (id: string, approve: boolean, comment: string) =>
    this.call<Acceptance>("POST", `/api/v1/risk-acceptances/${enc(id)}/${approve ? "approve" : "reject"}`, {
      comment,
    });
  revokeAcceptance = (id: string, comment: string) =>
    this.call<Acceptance>("POST", `/api/v1/risk-acceptances/${enc(id)}/revoke`, { comment });

  accounts = (tags?: string) => this.call<{ items: CloudAccount[] }>("GET", withQuery("/api/v1/accounts", { tags }));
  account = (id: string) => this.call<AccountDetail>("GET", `/api/v1/accounts/${enc(id)}`);
  createAccount = (body: AccountBody) => this.call<CloudAccount>("POST", "/api/v1/accounts", body);
  updateAccount = (id: string, body: AccountBody) =>
    this.call<CloudAccount>("PUT", `/api/v1/accounts/${enc(id)}`, body);
  importAccounts = (body: ImportBody) => this.call<AccountImport>("POST", "/api/v1/accounts/import", body);
  accountImport = (id: string) => this.call<AccountImport>("GET", `/api/v1/accounts/imports/${enc(id)}`);

  scans = () => this.call<{ items: Scan[] }>("GET", withQuery("/api/v1/scans", { limit: 100 }));
  scan = (id: string) => this.call<Scan>("GET", `/api/v1/scans/${enc(id)}`);
  startScan = (body: ScanBody) => this.call<Scan>("POST", "/api/v1/scans", body);
  cancelScan = (id: string) => this.call<Scan>("POST", `/api/v1/scans/${enc(id)}/cancel`);

  schedules = () => this.call<{ items: Schedule[] }>("GET", "/api/v1/schedules");
  schedule = (id: string) => this.call<Schedule>("GET", `/api/v1/schedules/${enc(id)}`);
  createSchedule = (body: ScheduleBody) => this.call<Schedule>("POST", "/api/v1/schedules", body);
  scheduleStep = (id: string, step: "pause" | "resume") =>
    this.call<Schedule>("POST", `/api/v1/schedules/${enc(id)}/${step}`);
  deleteSchedule = (id: string) => this.call<Schedule>("DELETE", `/api/v1/schedules/${enc(id)}`);
  approveSchedule = (id: string, comment: string, expires_at: string) =>
    this.call<Schedule>("POST", `/api/v1/schedules/${enc(id)}/approve`, { comment, expires_at });

  channels = () => this.call<{ items: Channel[] }>("GET", "/api/v1/notification-channels");
  channel = (id: string) => this.call<ChannelDetail>("GET", `/api/v1/notification-channels/${enc(id)}`);
  createChannel = (body: ChannelBody) => this.call<Channel>("POST", "/api/v1/notification-channels", body);
  deleteChannel = (id: string) => this.call<Channel>("DELETE", `/api/v1/notification-channels/${enc(id)}`);
  testChannel = (id: string) => this.call<TestQueued>("POST", `/api/v1/notification-channels/${enc(id)}/test`);
  rules = () => this.call<{ items: Rule[] }>("GET", "/api/v1/notification-rules");
  createRule = (body: RuleBody) => this.call<Rule>("POST", "/api/v1/notification-rules", body);
  updateRule = (id: string, body: RuleBody) => this.call<Rule>("PUT", `/api/v1/notification-rules/${enc(id)}`, body);
  deleteRule = (id: string) => this.call<Rule>("DELETE", `/api/v1/notification-rules/${enc(id)}`);

  audit = (filter: Query) => this.call<Page<AuditEvent>>("GET", withQuery("/api/v1/audit", filter));
  verifyAudit = () => this.call<ChainReport>("GET", "/api/v1/audit/verify");
}

/** How the console signs in; asked before anyone is signed in. */
export async function signInSettings(): Promise<SignIn> {
  const response = await fetch("/api/v1/sign-in", { headers: { Accept: "application/json" } });
  if (!response.ok) throw await toError(response);
  return (await response.json()) as SignIn;
}

export async function toError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as ErrorBody;
    return new ApiError(response.status, body.error.code, body.error.message, body.error.fields ?? []);
  } catch {
    return new ApiError(response.status, "http_" + response.status, response.statusText || "request failed");
  }
}

export function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const enc = encodeURIComponent;
