import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { Finding } from "../api/types";
import { formatTime } from "../i18n";
import { FindingStateBadge, SeverityBadge } from "./FindingBadges";
import { Table } from "./Table";

/** Which failing findings are chosen, and how to choose one. */
export interface Selection {
  chosen: ReadonlySet<string>;
  toggle: (fingerprint: string) => void;
}

const FAILING = ["new", "open", "reopened"];

/** Findings in rows, each opening its own page; with `select`, failing ones can be
 * chosen. */
export function FindingTable({ findings, select }: { findings: Finding[]; select?: Selection }) {
  const { t, i18n } = useTranslation();
  if (findings.length === 0) return <p className="muted">{t("findings.none")}</p>;
  return (
    <Table
      headers={[
        ...(select ? [t("findings.choose")] : []),
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
          {select && (
            <td>
              {FAILING.includes(f.state) && (
                <input
                  type="checkbox"
                  aria-label={t("findings.select", { check: f.check, resource: f.resource })}
                  checked={select.chosen.has(f.fingerprint)}
                  onChange={() => select.toggle(f.fingerprint)}
                />
              )}
            </td>
          )}
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
