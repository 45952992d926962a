import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { Acceptance } from "../api/types";
import { hasRole, useSession } from "../auth/context";
import { AcceptanceScope, Countdown } from "../components/AcceptanceScope";
import { Problem } from "../components/Problem";
import { Table } from "../components/Table";
import { useLoad } from "../components/useLoad";
import { useUrlFilter } from "../components/useUrlFilter";
import { formatTime } from "../i18n";

const STATUSES = ["requested", "approved", "rejected", "revoked", "expired"] as const;

/** Every risk acceptance the caller may see, newest first, with the time each has left;
 * its requester or a decider may revoke one. */
export function Acceptances() {
  const { t } = useTranslation();
  const { api } = useSession();
  const filter = useUrlFilter();
  const status = filter.get("status");
  const listed = useLoad(() => api.acceptances({ status, limit: 200 }), [api, status]);
  return (
    <section>
      <p>
        <Link to="/findings">← {t("findings.title")}</Link>
      </p>
      <h1>{t("acceptances.title")}</h1>
      <p className="muted">{t("acceptances.explain")}</p>
      <label htmlFor="acceptance-status">{t("acceptances.status")}</label>
      <select id="acceptance-status" value={status} onChange={(e) => filter.set("status", e.target.value)}>
        <option value="">{t("acceptances.allStatuses")}</option>
        {STATUSES.map((s) => (
          <option key={s} value={s}>
            {t(`acceptances.statuses.${s}`)}
          </option>
        ))}
      </select>
      <Problem error={listed.error} />
      {listed.data && (
        <Table
          headers={[
            t("acceptances.scope"),
            t("acceptances.reason"),
            t("acceptances.status"),
            t("acceptances.requestedBy"),
            t("acceptances.decidedBy"),
            t("acceptances.until"),
            "",
          ]}
        >
          {listed.data.items.map((a) => (
            <AcceptanceRow key={a.id} acceptance={a} onDone={listed.reload} />
          ))}
        </Table>
      )}
    </section>
  );
}

function AcceptanceRow({ acceptance: a, onDone }: { acceptance: Acceptance; onDone: () => void }) {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const { api, me } = session;
  const [failure, setFailure] = useState<unknown>();
  const [why, setWhy] = useState("");
  const live = a.status === "requested" || a.status === "approved";
  const mayRevoke = live && (a.requested_by === me.email || hasRole(session, "admin", "approver"));

  async function revoke() {
    setFailure(undefined);
    try {
      await api.revokeAcceptance(a.id, why);
      onDone();
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <tr data-acceptance={a.id} data-status={a.status}>
      <td>
        <AcceptanceScope acceptance={a} />
      </td>
      <td className="wrap">{a.reason}</td>
      <td>
        {t(`acceptances.statuses.${a.status}`)}
        {a.status === "approved" && ` (${t("acceptances.findings", { count: a.findings })})`}
      </td>
      <td>{a.requested_by}</td>
      <td>{a.decided_by ?? "—"}</td>
      <td>
        {formatTime(a.expires_at, i18n.language)}
        {live && (
          <>
            {" "}
            (<Countdown at={a.expires_at} />)
          </>
        )}
      </td>
      <td>
        {mayRevoke && (
          <div className="revoke">
            <input
              aria-label={t("acceptances.revokeWhy")}
              placeholder={t("acceptances.revokeWhy")}
              value={why}
              onChange={(e) => setWhy(e.target.value)}
            />
            <button type="button" className="danger" onClick={() => void revoke()}>
              {t("acceptances.revoke")}
            </button>
          </div>
        )}
        <Problem error={failure} />
      </td>
    </tr>
  );
}
