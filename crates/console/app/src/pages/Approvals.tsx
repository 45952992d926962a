import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { useSession } from "../auth/context";
import { AcceptanceInbox } from "../components/AcceptanceInbox";
import { Decide } from "../components/Decide";
import { ParamsTable } from "../components/ParamsTable";
import { Problem } from "../components/Problem";
import { useLoad } from "../components/useLoad";
import { formatTime } from "../i18n";

/** Runs waiting for the caller's decision: not their own, not yet decided by them. */
export function Approvals() {
  const { t, i18n } = useTranslation();
  const { api, me } = useSession();
  const waiting = useLoad(() => api.executions({ status: "awaiting_approval", limit: 200 }), [api]);
  const modules = useLoad(() => api.modules(), [api]);
  const names = new Map(modules.data?.items.map((m) => [m.id, m.name]));
  const mine = (waiting.data?.items ?? []).filter(
    (run) => run.requested_by !== me.email && !run.approvals.some((a) => a.approver === me.email),
  );
  return (
    <section>
      <h1>{t("approvals.title")}</h1>
      <Problem error={waiting.error} />
      {waiting.data && mine.length === 0 && <p className="muted">{t("approvals.none")}</p>}
      <ul className="cards">
        {mine.map((run) => (
          <li key={run.id} className="card" data-testid="approval-card">
            <h2>
              <Link to={`/executions/${run.id}`}>
                {names.get(run.module_id) ?? run.module_id.slice(0, 8)} v{run.module_version}
              </Link>
            </h2>
            <p>
              {t("approvals.requestedBy", { who: run.requested_by, at: formatTime(run.created_at, i18n.language) })}
            </p>
            <p>
              {t("execution.approvalsNeeded", {
                given: run.approvals.filter((a) => a.decision === "approve").length,
                required: run.approvals_required,
              })}
            </p>
            <ParamsTable params={run.params} />
            <Decide
              id={run.id}
              decide={(approve, comment) => (approve ? api.approve(run.id, comment) : api.reject(run.id, comment))}
              onDone={waiting.reload}
            />
          </li>
        ))}
      </ul>
      <AcceptanceInbox />
    </section>
  );
}
