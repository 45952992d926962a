import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { FINDING_STATES, SEVERITIES, TOOLS } from "../api/types";
import { useSession } from "../auth/context";
import { AcceptRiskForm } from "../components/AcceptRiskForm";
import { FindingTable } from "../components/FindingTable";
import { Problem } from "../components/Problem";
import { useLoad } from "../components/useLoad";
import { useUrlFilter } from "../components/useUrlFilter";

/** Every finding of the scanners' runs the caller may see, gravest first, filtered in
 * the URL so a view can be shared. */
export function Findings() {
  const { t } = useTranslation();
  const { api } = useSession();
  const { filter, cursor, setCursor, get, set } = useUrlFilter();
  const query = {
    tool: get("tool"),
    state: get("state"),
    severity: get("severity"),
    resource: get("resource"),
    limit: 50,
    cursor,
  };
  const findings = useLoad(() => api.findings(query), [api, filter.toString(), cursor]);
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const choice = (name: string, values: readonly string[], label: (v: string) => string) => (
    <select value={get(name)} onChange={(e) => set(name, e.target.value)}>
      <option value="">{t("common.any")}</option>
      {values.map((v) => (
        <option key={v} value={v}>
          {label(v)}
        </option>
      ))}
    </select>
  );
  return (
    <section>
      <h1>{t("findings.title")}</h1>
      <p className="muted">{t("findings.explain")}</p>
      <nav className="page-links" aria-label={t("findings.views")}>
        <Link to="/findings/trends">{t("trends.title")}</Link>
        <Link to="/findings/diff">{t("diff.title")}</Link>
        <Link to="/findings/acceptances">{t("acceptances.title")}</Link>
      </nav>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("findings.filters")}>
        <label>
          {t("findings.tool")}
          {choice("tool", TOOLS, (v) => t(`tools.${v}`))}
        </label>
        <label>
          {t("findings.state")}
          {choice("state", FINDING_STATES, (v) => t(`findingState.${v}`))}
        </label>
        <label>
          {t("findings.severity")}
          {choice("severity", SEVERITIES, (v) => t(`severity.${v}`))}
        </label>
        <label>
          {t("findings.resource")}
          <input value={get("resource")} onChange={(e) => set("resource", e.target.value)} />
        </label>
      </form>
      <Problem error={findings.error} />
      {findings.data && (
        <FindingTable
          findings={findings.data.items}
          select={{
            chosen,
            toggle: (fingerprint) =>
              setChosen((now) => {
                const next = new Set(now);
                if (!next.delete(fingerprint)) next.add(fingerprint);
                return next;
              }),
          }}
        />
      )}
      {chosen.size > 0 && <AcceptRiskForm key={[...chosen].join()} fingerprints={[...chosen]} />}
      {findings.data?.next_cursor && (
        <button type="button" onClick={() => setCursor(findings.data?.next_cursor ?? undefined)}>
          {t("common.older")}
        </button>
      )}
    </section>
  );
}
