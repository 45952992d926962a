import { useState } from "react";
import { useTranslation } from "react-i18next";

import type { ChainReport } from "../../api/types";
import { useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { toIso, useUrlFilter } from "../../components/useUrlFilter";
import { formatTime } from "../../i18n";

export function Audit() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const { filter, cursor, setCursor, get, set } = useUrlFilter();
  const [report, setReport] = useState<ChainReport>();
  const [failure, setFailure] = useState<unknown>();
  const since = get("since");
  const events = useLoad(
    () =>
      api.audit({
        actor: get("actor"),
        action: get("action"),
        target_id: get("target_id"),
        since: toIso(since),
        limit: 100,
        cursor,
      }),
    [api, filter.toString(), cursor],
  );

  async function verify() {
    setFailure(undefined);
    setReport(undefined);
    try {
      setReport(await api.verifyAudit());
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section>
      <h1>{t("audit.title")}</h1>
      <div className="buttons">
        <button type="button" className="primary" onClick={() => void verify()}>
          {t("audit.verify")}
        </button>
        {report && (
          <span role="status" className={report.ok ? "ok" : "bad"} data-testid="chain-report">
            {report.ok
              ? `✔ ${t("audit.chainOk", { count: report.checked })}`
              : `✖ ${t("audit.chainBroken", { at: report.broken_at, reason: report.reason })}`}
          </span>
        )}
      </div>
      <Problem error={failure} />
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("audit.filters")}>
        {(["actor", "action", "target_id"] as const).map((name) => (
          <label key={name}>
            {t(`audit.${name}`)}
            <input value={get(name)} onChange={(e) => set(name, e.target.value)} />
          </label>
        ))}
        <label>
          {t("runs.since")}
          <input type="datetime-local" value={since} onChange={(e) => set("since", e.target.value)} />
        </label>
      </form>
      <Problem error={events.error} />
      {events.data && (
        <Table headers={[t("audit.at"), t("audit.actor"), t("audit.action"), t("audit.target"), t("audit.change")]}>
          {events.data.items.map((e) => (
            <tr key={e.id}>
              <td>{formatTime(e.at, i18n.language)}</td>
              <td>{e.actor}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.target_type} <code>{e.target_id.slice(0, 8)}</code>
              </td>
              <td>
                <details>
                  <summary>{t("audit.details")}</summary>
                  <pre>
                    {JSON.stringify({ before: e.before, after: e.after, ip: e.ip, request_id: e.request_id }, null, 2)}
                  </pre>
                </details>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {events.data?.next_cursor && (
        <button type="button" onClick={() => setCursor(events.data?.next_cursor ?? undefined)}>
          {t("common.older")}
        </button>
      )}
    </section>
  );
}
