// What the schedule form sends, and what a schedule's page reads of its scan. The API
// refuses a module's fields beside a scan, so only the chosen kind's fields go.

import type { ScanBody, Schedule, ScheduleBody } from "../../api/types";
import { type ScanFields, scanBody } from "../../components/ScanFields";

/** What a schedule starts at each fire. */
export const KINDS = ["run", "scan"] as const;
export type ScheduleKind = (typeof KINDS)[number];

/** A schedule as typed in the form: both kinds' inputs, as text. */
export interface ScheduleFields {
  name: string;
  cron: string;
  timezone: string;
  missed: string;
  kind: ScheduleKind;
  moduleId: string;
  params: string;
  scan: ScanFields;
}

/** The body the fields make (throws when the parameters or options are not JSON). */
export function scheduleBody(f: ScheduleFields): ScheduleBody {
  const when = { name: f.name, cron: f.cron, timezone: f.timezone, missed_policy: f.missed };
  if (f.kind === "scan") return { ...when, scan: scanBody(f.scan) };
  return { ...when, module_id: f.moduleId || null, params: JSON.parse(f.params) as Record<string, never> };
}

/** The scan a scan schedule starts: its request as the API keeps it (in `params`). */
export function scanOf(schedule: Schedule): ScanBody | undefined {
  return schedule.kind === "scan" ? (schedule.params as ScanBody) : undefined;
}

/** Which accounts a scan selects, in words: `env=prod, team=web` or the ids. */
export function selectionText(scan: ScanBody): string {
  if (scan.account_tags) {
    return Object.entries(scan.account_tags)
      .map(([key, value]) => `${key}=${value}`)
      .join(", ");
  }
  return (scan.account_ids ?? []).join(", ");
}
