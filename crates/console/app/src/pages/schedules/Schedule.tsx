import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";

import { hasRole, useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";
import { scanOf, selectionText } from "./bodies";

/** One schedule: what it starts (a module's run, or a scan with its tool and accounts),
 * when it fires next, its latest fires and their runs or scans; pause, resume, delete
 * (its owner, admins); a standing approval (approvers, admins). */
export function SchedulePage() {
  const { t, i18n } = useTranslation();
  const { id = "" } = useParams();
  const session = useSession();
  const navigate = useNavigate();
  const schedule = useLoad(() => session.api.schedule(id), [session.api, id]);
  const [failure, setFailure] = useState<unknown>();
  const s = schedule.data;
  const scan = s && scanOf(s);

  async function act(action: () => Promise<unknown>, then?: () => void) {
    setFailure(undefined);
    try {
      await action();
      if (then) then();
      else schedule.reload();
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section>
      <h1>{s?.name ?? t("schedules.title")}</h1>
      <Problem error={schedule.error ?? failure} />
      {s && (
        <>
          <dl className="facts">
            <dt>{t("schedules.when")}</dt>
            <dd>
              <code>{s.cron}</code> ({s.timezone})
            </dd>
            <dt>{t("schedules.starts")}</dt>
            <dd data-testid="schedule-kind">{t(`schedules.kinds.${s.kind}`, { defaultValue: s.kind })}</dd>
            {scan && (
              <>
                <dt>{t("scans.tool")}</dt>
                <dd data-testid="scan-tool">{t(`tools.${scan.tool}`, { defaultValue: scan.tool ?? "" })}</dd>
                <dt>{t("scans.which")}</dt>
                <dd data-testid="scan-selection">
                  {scan.account_tags ? t("scans.byTags") : t("scans.byIds")}: <code>{selectionText(scan)}</code>
                </dd>
                <dt>{t("accounts.regions")}</dt>
                <dd>{scan.regions?.join(", ") ?? t("schedules.accountsRegions")}</dd>
                <dt>{t("scans.cap")}</dt>
                <dd>{scan.max_concurrency ?? "—"}</dd>
              </>
            )}
            <dt>{t("schedules.owner")}</dt>
            <dd>{s.owner}</dd>
            <dt>{t("schedules.version")}</dt>
            <dd>{s.version}</dd>
          </dl>
          <h2>{t("schedules.nextFires")}</h2>
          {s.next_fires.length === 0 ? (
            <p className="muted" data-testid="paused">
              {t("schedules.paused")}
            </p>
          ) : (
            <ol data-testid="next-fires">
              {s.next_fires.map((at) => (
                <li key={at}>
                  <time dateTime={at}>{formatTime(at, i18n.language)}</time>
                </li>
              ))}
            </ol>
          )}
          <div className="buttons">
            <button
              type="button"
              onClick={() => void act(() => session.api.scheduleStep(s.id, s.enabled ? "pause" : "resume"))}
            >
              {s.enabled ? t("schedules.pause") : t("schedules.resume")}
            </button>
            <button
              type="button"
              onClick={() =>
                void act(
                  () => session.api.deleteSchedule(s.id),
                  () => navigate("/schedules"),
                )
              }
            >
              {t("schedules.delete")}
            </button>
            {hasRole(session, "admin", "approver") && session.me.email !== s.owner && (
              <button
                type="button"
                onClick={() =>
                  void act(() =>
                    session.api.approveSchedule(
                      s.id,
                      t("schedules.approvedHere"),
                      new Date(Date.now() + 90 * 86_400_000).toISOString(),
                    ),
                  )
                }
              >
                {t("schedules.approve")}
              </button>
            )}
          </div>
          {s.approvals && s.approvals.length > 0 && (
            <p data-testid="approvals">
              {t("schedules.approvedBy", { who: s.approvals.map((a) => a.approver).join(", ") })}
            </p>
          )}
          <h2>{t("schedules.fires")}</h2>
          <Table headers={[t("schedules.fireAt"), t("schedules.outcome"), t("schedules.detail")]}>
            {(s.fires ?? []).map((fire) => (
              <tr key={fire.fire_at}>
                <td>{formatTime(fire.fire_at, i18n.language)}</td>
                <td>
                  {fire.execution_id ? (
                    <Link to={`/executions/${fire.execution_id}`}>{t(`schedules.outcomes.${fire.outcome}`)}</Link>
                  ) : fire.scan_id ? (
                    <Link to={`/scans/${fire.scan_id}`}>{t(`schedules.outcomes.${fire.outcome}`)}</Link>
                  ) : (
                    t(`schedules.outcomes.${fire.outcome}`)
                  )}
                </td>
                <td className="wrap">{fire.detail ?? ""}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}
