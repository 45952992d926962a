import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { type Execution, STATUSES } from "../api/types";
import { hasRole, useSession } from "../auth/context";
import { Problem } from "../components/Problem";
import { StatusBadge } from "../components/Status";
import { Table } from "../components/Table";
import { useLoad } from "../components/useLoad";
import { toIso, useUrlFilter } from "../components/useUrlFilter";
import { formatTime } from "../i18n";

/** Runs the caller may see (admins: all), filtered in the URL so a view can be shared. */
export function Runs() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const { api, me } = session;
  const { filter, cursor, setCursor, get, set } = useUrlFilter();
  const modules = useLoad(() => api.modules(), [api]);
  const names = new Map(modules.data?.items.map((m) => [m.id, m.name]));
  const query = {
    module_id: get("module_id"),
    status: get("status"),
    requested_by: get("requested_by"),
    since: toIso(get("since")),
    until: toIso(get("until")),
    limit: 50,
    cursor,
  };
  const runs = useLoad(() => api.executions(query), [api, filter.toString(), cursor]);

  return (
    <section>
      <h1>{hasRole(session, "admin") ? t("runs.titleAll") : t("runs.title")}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("runs.filters")}>
        <label>
          {t("runs.module")}
          <select value={get("module_id")} onChange={(e) => set("module_id", e.target.value)}>
            <option value="">{t("common.any")}</option>
            {modules.data?.items.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("runs.status")}
          <select value={get("status")} onChange={(e) => set("status", e.target.value)}>
            <option value="">{t("common.any")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("runs.requester")}
          <input
            type="email"
            value={get("requested_by")}
            onChange={(e) => set("requested_by", e.target.value)}
            list="requester-me"
          />
          <datalist id="requester-me">
            <option value={me.email} />
          </datalist>
        </label>
        <label>
          {t("runs.since")}
          <input type="datetime-local" value={get("since")} onChange={(e) => set("since", e.target.value)} />
        </label>
        <label>
          {t("runs.until")}
          <input type="datetime-local" value={get("until")} onChange={(e) => set("until", e.target.value)} />
        </label>
      </form>
      <Problem error={runs.error} />
      {runs.data && <RunTable runs={runs.data.items} names={names} lang={i18n.language} />}
      {runs.data?.next_cursor && (
        <button type="button" onClick={() => setCursor(runs.data?.next_cursor ?? undefined)}>
          {t("common.older")}
        </button>
      )}
    </section>
  );
}

export function RunTable({ runs, names, lang }: { runs: Execution[]; names: Map<string, string>; lang: string }) {
  const { t } = useTranslation();
  if (runs.length === 0) return <p className="muted">{t("runs.none")}</p>;
  return (
    <Table
      headers={[
        t("runs.status"),
        t("runs.module"),
        t("runs.requester"),
        t("execution.submitted"),
        t("execution.reason"),
      ]}
    >
      {runs.map((run) => (
        <tr key={run.id}>
          <td>
            <Link to={`/executions/${run.id}`} aria-label={t("runs.open", { id: run.id })}>
              <StatusBadge status={run.status} />
            </Link>
          </td>
          <td>
            {names.get(run.module_id) ?? run.module_id.slice(0, 8)} v{run.module_version}
          </td>
          <td>{run.requested_by}</td>
          <td>{formatTime(run.created_at, lang)}</td>
          <td>{run.reason ? t(`reasons.${run.reason}`, { defaultValue: run.reason }) : ""}</td>
        </tr>
      ))}
    </Table>
  );
}
