import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import { type Execution, isTerminal } from "../api/types";
import { hasRole, useSession } from "../auth/context";
import { Artifacts } from "../components/Artifacts";
import { Decide } from "../components/Decide";
import { LogView } from "../components/LogView";
import { ParamsTable } from "../components/ParamsTable";
import { Problem } from "../components/Problem";
import { StatusBadge } from "../components/Status";
import { useLoad } from "../components/useLoad";
import { formatDuration, formatTime } from "../i18n";

const POLL_MS = 2000;

export function ExecutionPage() {
  const { t, i18n } = useTranslation();
  const { id = "" } = useParams();
  const session = useSession();
  const { api, me } = session;
  const [execution, setExecution] = useState<Execution>();
  const [failure, setFailure] = useState<unknown>();
  const [actionFailure, setActionFailure] = useState<unknown>();

  // Polls, the log's start and end, and actions all refresh: only the answer to the
  // latest request counts, and a finished run never shows as running again.
  const asked = useRef(0);
  const refresh = useCallback(() => {
    const round = ++asked.current;
    api.execution(id).then(
      (fresh) => {
        if (round !== asked.current) return;
        setExecution((shown) => (shown && isTerminal(shown.status) && !isTerminal(fresh.status) ? shown : fresh));
        setFailure(undefined);
      },
      (error: unknown) => {
        if (round === asked.current) setFailure(error);
      },
    );
  }, [api, id]);

  useEffect(refresh, [refresh]);
  const running = execution !== undefined && !isTerminal(execution.status);
  // Status changes the log does not announce (approved, queued, started) come by polling.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(refresh, POLL_MS);
    return () => clearInterval(timer);
  }, [running, refresh]);

  const module = useLoad(
    () => (execution ? api.module(execution.module_id).catch(() => undefined) : Promise.resolve(undefined)),
    [api, execution?.module_id],
  );

  if (failure && !execution) return <Problem error={failure} />;
  if (!execution) return <p role="status">{t("common.loading")}</p>;

  const mine = execution.requested_by === me.email;
  const canCancel = running && (mine || hasRole(session, "admin"));
  const decided = execution.approvals.some((a) => a.approver === me.email);
  const canDecide =
    execution.status === "awaiting_approval" && !mine && !decided && hasRole(session, "admin", "approver");

  async function cancel() {
    setActionFailure(undefined);
    try {
      await api.cancel(id);
      refresh();
    } catch (error) {
      setActionFailure(error);
    }
  }

  return (
    <article className="execution">
      <header className="execution-head">
        <h1>
          {module.data ? <Link to={`/modules/${module.data.id}`}>{module.data.name}</Link> : t("execution.title")}{" "}
          <span className="muted">v{execution.module_version}</span>
        </h1>
        <StatusBadge status={execution.status} />
        {canCancel && (
          <button type="button" className="danger" onClick={() => void cancel()}>
            {t("execution.cancel")}
          </button>
        )}
      </header>
      <Problem error={actionFailure ?? failure} />
      <dl className="facts">
        <dt>{t("execution.id")}</dt>
        <dd>
          <code>{execution.id}</code>
        </dd>
        <dt>{t("execution.requestedBy")}</dt>
        <dd>{execution.requested_by}</dd>
        <dt>{t("execution.submitted")}</dt>
        <dd>{formatTime(execution.created_at, i18n.language)}</dd>
        <dt>{t("execution.started")}</dt>
        <dd>{formatTime(execution.started_at, i18n.language)}</dd>
        <dt>{t("execution.finished")}</dt>
        <dd>{formatTime(execution.finished_at, i18n.language)}</dd>
        <dt>{t("execution.duration")}</dt>
        <dd>{formatDuration(execution.started_at, execution.finished_at)}</dd>
        <dt>{t("execution.reason")}</dt>
        <dd data-testid="execution-reason">
          {execution.reason ? t(`reasons.${execution.reason}`, { defaultValue: execution.reason }) : "—"}
        </dd>
        <dt>{t("execution.exitCode")}</dt>
        <dd>{execution.exit_code ?? "—"}</dd>
        <dt>{t("execution.output")}</dt>
        <dd>
          {execution.output_bytes} B{execution.truncated && ` (${t("execution.truncated")})`}
        </dd>
      </dl>
      <section aria-labelledby="params-title">
        <h2 id="params-title">{t("execution.params")}</h2>
        <ParamsTable params={execution.params} />
      </section>
      {(execution.approvals_required > 0 || execution.approvals.length > 0) && (
        <section aria-labelledby="approvals-title">
          <h2 id="approvals-title">{t("execution.approvals")}</h2>
          <p>
            {t("execution.approvalsNeeded", {
              given: execution.approvals.filter((a) => a.decision === "approve").length,
              required: execution.approvals_required,
            })}
            {execution.approval_expires_at &&
              execution.status === "awaiting_approval" &&
              ` ${t("execution.approvalExpires", { at: formatTime(execution.approval_expires_at, i18n.language) })}`}
          </p>
          <ul>
            {execution.approvals.map((a, i) => (
              <li key={i}>
                {t(`approvals.decision.${a.decision}`, { defaultValue: a.decision })}: {a.approver},{" "}
                {formatTime(a.decided_at, i18n.language)}
                {a.comment && (
                  <>
                    {" — "}
                    <q>{a.comment}</q>
                  </>
                )}
              </li>
            ))}
          </ul>
          {canDecide && (
            <Decide
              id={execution.id}
              decide={(approve, comment) =>
                approve ? api.approve(execution.id, comment) : api.reject(execution.id, comment)
              }
              onDone={refresh}
            />
          )}
        </section>
      )}
      {execution.purged_at ? (
        // Retention took the log, artifacts and findings: said so, rather than shown empty.
        <section aria-labelledby="purged-title">
          <h2 id="purged-title">{t("log.title")}</h2>
          <p className="notice" data-testid="purged">
            {t("execution.purged", { at: formatTime(execution.purged_at, i18n.language) })}
          </p>
        </section>
      ) : (
        <>
          <LogView executionId={execution.id} onStart={refresh} onEnd={refresh} />
          {isTerminal(execution.status) && (
            <Artifacts key={execution.status} load={() => api.artifacts(execution.id).then((a) => a.items)} />
          )}
        </>
      )}
    </article>
  );
}
