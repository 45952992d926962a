import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import type { FindingEvent } from "../api/types";
import { useSession } from "../auth/context";
import { AcceptRiskForm } from "../components/AcceptRiskForm";
import { Countdown } from "../components/AcceptanceScope";
import { FindingStateBadge, SeverityBadge } from "../components/FindingBadges";
import { Problem } from "../components/Problem";
import { Table } from "../components/Table";
import { useLoad } from "../components/useLoad";
import { formatTime } from "../i18n";

/** One finding: what it is, where it stands, and each change with the run that made it. */
export function FindingPage() {
  const { t, i18n } = useTranslation();
  const { fingerprint = "" } = useParams();
  const { api } = useSession();
  const finding = useLoad(() => api.finding(fingerprint), [api, fingerprint]);
  const f = finding.data;
  return (
    <section>
      <h1>{f ? f.title || f.check : t("findings.finding")}</h1>
      <Problem error={finding.error} />
      {f && (
        <>
          <p className="finding-head">
            <FindingStateBadge state={f.state} /> <SeverityBadge severity={f.severity} />
          </p>
          <dl className="facts">
            <dt>{t("findings.tool")}</dt>
            <dd>{t(`tools.${f.tool}`)}</dd>
            <dt>{t("findings.check")}</dt>
            <dd>{f.check}</dd>
            <dt>{t("findings.resource")}</dt>
            <dd className="wrap">{f.resource}</dd>
            <dt>{t("findings.account")}</dt>
            <dd>{f.account || "—"}</dd>
            <dt>{t("findings.region")}</dt>
            <dd>{f.region}</dd>
            <dt>{t("findings.firstSeen")}</dt>
            <dd>{formatTime(f.first_seen, i18n.language)}</dd>
            <dt>{t("findings.lastSeen")}</dt>
            <dd>{formatTime(f.last_seen, i18n.language)}</dd>
            <dt>{t("findings.fixedAt")}</dt>
            <dd>{f.fixed_at ? formatTime(f.fixed_at, i18n.language) : "—"}</dd>
          </dl>
          {f.acceptance && (
            <>
              <h2>{t("findings.acceptance.title")}</h2>
              <dl className="facts acceptance">
                <dt>{t("findings.acceptance.reason")}</dt>
                <dd className="wrap">{f.acceptance.reason}</dd>
                <dt>{t("findings.acceptance.requestedBy")}</dt>
                <dd>{f.acceptance.requested_by}</dd>
                <dt>{t("findings.acceptance.approvedBy")}</dt>
                <dd>{f.acceptance.decided_by ?? "—"}</dd>
                <dt>{t("findings.acceptance.until")}</dt>
                <dd>
                  {formatTime(f.acceptance.expires_at, i18n.language)} (<Countdown at={f.acceptance.expires_at} />)
                </dd>
              </dl>
            </>
          )}
          {!f.acceptance && ["new", "open", "reopened"].includes(f.state) && (
            <AcceptRiskForm
              fingerprints={[f.fingerprint]}
              check={{ tool: f.tool, check: f.check, account: f.account, region: f.region }}
            />
          )}
          <h2>{t("findings.history")}</h2>
          <History events={f.history} />
        </>
      )}
    </section>
  );
}

function History({ events }: { events: FindingEvent[] }) {
  const { t, i18n } = useTranslation();
  return (
    <Table
      headers={[t("findings.when"), t("findings.change"), t("findings.run"), t("findings.changes")]}
      className="history"
    >
      {events.map((e, i) => (
        <tr key={i} data-to={e.to}>
          <td>{formatTime(e.at, i18n.language)}</td>
          <td>
            {e.from ? <FindingStateBadge state={e.from} /> : t("findings.firstSighting")} →{" "}
            <FindingStateBadge state={e.to} />
          </td>
          <td>{e.run ? <Link to={`/executions/${e.run}`}>{e.run.slice(0, 8)}</Link> : t("findings.byAcceptance")}</td>
          <td>
            {Object.entries(e.changes ?? {})
              .map(
                ([field, change]) =>
                  `${t(`findings.fields.${field}`, { defaultValue: field })}: ${change.from} → ${change.to}`,
              )
              .join("; ")}
          </td>
        </tr>
      ))}
    </Table>
  );
}
