import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { Finding } from "../api/types";
import { formatTime } from "../i18n";
import { FindingStateBadge, SeverityBadge } from "./FindingBadges";
import { Table } from "./Table";

/** Findings in rows, each opening its own page. */
export function FindingTable({ findings }: { findings: Finding[] }) {
  const { t, i18n } = useTranslation();
  if (findings.length === 0) return <p className="muted">{t("findings.none")}</p>;
  return (
    <Table
      headers={[
        t("findings.state"),
        t("findings.severity"),
        t("findings.tool"),
        t("findings.check"),
        t("findings.resource"),
        t("findings.region"),
        t("findings.lastSeen"),
      ]}
    >
      {findings.map((f) => (
        <tr key={f.fingerprint} data-fingerprint={f.fingerprint}>
          <td>
            <Link
              to={`/findings/${f.fingerprint}`}
              aria-label={t("findings.open", { check: f.check, resource: f.resource })}
            >
              <FindingStateBadge state={f.state} />
            </Link>
          </td>
          <td>
            <SeverityBadge severity={f.severity} />
          </td>
          <td>{t(`tools.${f.tool}`)}</td>
          <td title={f.title}>{f.check}</td>
          <td className="wrap">{f.resource}</td>
          <td>{f.region}</td>
          <td>{formatTime(f.last_seen, i18n.language)}</td>
        </tr>
      ))}
    </Table>
  );
}
