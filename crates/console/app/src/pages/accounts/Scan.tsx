import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import type { Evidence, ScanTarget } from "../../api/types";
import { useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { ScanProgress } from "../../components/ScanProgress";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";

/** How often a running scan is read again. */
const REFRESH_MS = 1000;

/** One scan: its progress while it runs, each account with its run, the accounts
 * that failed and why; cancel it, or ask for one report over it once it ended. */
export function ScanPage() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const { api } = useSession();
  const scan = useLoad(() => api.scan(id), [api, id]);
  const [failure, setFailure] = useState<unknown>();
  const [report, setReport] = useState<Evidence>();
  const s = scan.data;
  const running = s?.status === "running";
  const { reload } = scan;
  useEffect(() => {
    if (!running) return;
    const timer = setTimeout(reload, REFRESH_MS);
    return () => clearTimeout(timer);
  }, [running, reload, s]);

  async function act(action: () => Promise<unknown>) {
    setFailure(undefined);
    try {
      await action();
      reload();
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section>
      <h1>{t("scans.scanOf", { tool: s ? t(`tools.${s.tool}`, { defaultValue: s.tool }) : "" })}</h1>
      <Problem error={scan.error ?? failure} />
      {s && (
        <>
          <p data-scan-status={s.status}>
            {t(`scans.statuses.${s.status}`)} — <ScanProgress scan={s} />
          </p>
          <div className="buttons">
            {running && (
              <button type="button" onClick={() => void act(() => api.cancelScan(s.id))}>
                {t("scans.cancel")}
              </button>
            )}
            {!running && !report && (
              <button
                type="button"
                onClick={() =>
                  void act(async () => setReport(await api.requestEvidence({ scan_id: s.id, lang: "en" })))
                }
              >
                {t("scans.report")}
              </button>
            )}
          </div>
          {report && (
            <p role="status">
              {t("scans.reportRequested")} <Link to="/evidence">{t("nav.evidence")}</Link>
            </p>
          )}
          {s.failed_accounts.length > 0 && (
            <>
              <h2>{t("scans.failedAccounts")}</h2>
              <Targets targets={s.failed_accounts} />
            </>
          )}
          <h2>{t("scans.accounts")}</h2>
          <Targets targets={s.accounts ?? []} />
        </>
      )}
    </section>
  );
}

/** Each account: its run, the throttled runs before it, when a run again may start,
 * and why it failed or was refused. */
function Targets({ targets }: { targets: ScanTarget[] }) {
  const { t, i18n } = useTranslation();
  const now = Date.now();
  return (
    <Table headers={[t("accounts.id"), t("accounts.name"), t("scans.status"), t("scans.attempts"), t("scans.reason")]}>
      {targets.map((target) => (
        <tr
          key={`${target.account_id}/${target.region ?? ""}`}
          data-target={target.account_id}
          data-status={target.status}
        >
          <td>{target.account_id}</td>
          <td>{target.account_name ?? "—"}</td>
          <td>
            {target.execution_id ? (
              <Link to={`/executions/${target.execution_id}`}>
                {t(`status.${target.status}`, { defaultValue: target.status })}
              </Link>
            ) : (
              t("scans.refused")
            )}
            {target.release_after && Date.parse(target.release_after) > now && (
              <span className="muted" data-testid="waits">
                {" "}
                {t("scans.waitsUntil", { at: formatTime(target.release_after, i18n.language) })}
              </span>
            )}
          </td>
          <td data-testid="attempts">
            {target.attempts > 1 && (
              <>
                {t("scans.attemptsN", { count: target.attempts })}
                {target.earlier_runs.length > 0 && ` — ${t("scans.earlier")} `}
                {target.earlier_runs.map((run, i) => (
                  <span key={run}>
                    {i > 0 && ", "}
                    <Link to={`/executions/${run}`}>{t("scans.runN", { n: i + 1 })}</Link>
                  </span>
                ))}
              </>
            )}
          </td>
          <td className="wrap">
            {target.reason && i18n.exists(`reasons.${target.reason}`)
              ? t(`reasons.${target.reason}`)
              : (target.reason ?? "")}
          </td>
        </tr>
      ))}
    </Table>
  );
}
