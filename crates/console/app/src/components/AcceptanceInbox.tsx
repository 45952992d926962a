import { useTranslation } from "react-i18next";

import { hasRole, useSession } from "../auth/context";
import { formatTime } from "../i18n";
import { AcceptanceScope, Countdown } from "./AcceptanceScope";
import { Decide } from "./Decide";
import { Problem } from "./Problem";
import { useLoad } from "./useLoad";

/** Risk acceptances waiting for the caller's decision (admins and approvers; never
 * their own requests), beside the runs waiting for approval. */
export function AcceptanceInbox() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const { api, me } = session;
  const decides = hasRole(session, "admin", "approver");
  const waiting = useLoad(
    () => (decides ? api.acceptances({ status: "requested", limit: 200 }) : Promise.resolve(null)),
    [api, decides],
  );
  if (!decides) return null;
  const mine = (waiting.data?.items ?? []).filter((a) => a.requested_by !== me.email);
  return (
    <section aria-labelledby="acceptance-inbox">
      <h2 id="acceptance-inbox">{t("acceptances.inbox")}</h2>
      <Problem error={waiting.error} />
      {waiting.data && mine.length === 0 && <p className="muted">{t("acceptances.noneWaiting")}</p>}
      <ul className="cards">
        {mine.map((a) => (
          <li key={a.id} className="card" data-testid="acceptance-card">
            <h3>
              <AcceptanceScope acceptance={a} />
            </h3>
            <p className="wrap">{a.reason}</p>
            <p>{t("approvals.requestedBy", { who: a.requested_by, at: formatTime(a.requested_at, i18n.language) })}</p>
            <p>
              {t("acceptances.until")} {formatTime(a.expires_at, i18n.language)} (<Countdown at={a.expires_at} />)
            </p>
            <Decide
              id={a.id}
              decide={(approve, comment) => api.decideAcceptance(a.id, approve, comment)}
              onDone={waiting.reload}
            />
          </li>
        ))}
      </ul>
    </section>
  );
}
