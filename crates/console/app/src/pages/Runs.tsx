import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";

import { type Execution, STATUSES } from "../api/types";
import { hasRole, useSession } from "../auth/context";
import { Problem } from "../components/Problem";
import { StatusBadge } from "../components/Status";
import { useLoad } from "../components/useLoad";
import { formatTime } from "../i18n";

/** Runs the caller may see (admins: all), filtered in the URL so a view can be shared. */
export function Runs() {
  const { t, i18n } = useTranslation();
  const session = useSession();
  const { api, me } = session;
  const [filter, setFilter] = useSearchParams();
  const [cursor, setCursor] = useState<string | undefined>();
  const modules = useLoad(() => api.modules(), [api]);
  const names = new Map(modules.data?.items.map((m) => [m.id, m.name]));
  const query = {
    module_id: filter.get("module_id"),
    status: filter.get("status"),
    requested_by: filter.get("requested_by"),
    since: toIso(filter.get("since")),
    until: toIso(filter.get("until")),
    limit: 50,
    cursor,
  };
  const runs = useLoad(() => api.executions(query), [api, filter.toString(), cursor]);

  function set(name: string, value: string) {
    const next = new URLSearchParams(filter);
    if (value) next.set(name, value);
    else next.delete(name);
    setCursor(undefined);
    setFilter(next);
  }

  return (
    <section>
      <h1>{hasRole(session, "admin") ? t("runs.titleAll") : t("runs.title")}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("runs.filters")}>
        <label>
          {t("runs.module")}
          <select value={filter.get("module_id") ?? ""} onChange={(e) => set("module_id", e.target.value)}>
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
          <select value={filter.get("status") ?? ""} onChange={(e) => set("status", e.target.value)}>
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
            value={filter.get("requested_by") ?? ""}
            onChange={(e) => set("requested_by", e.target.value)}
            list="requester-me"
          />
          <datalist id="requester-me">
            <option value={me.email} />
          </datalist>
        </label>
        <label>
          {t("runs.since")}
          <input type="datetime-local" value={filter.get("since") ?? ""} onChange={(e) => set("since", e.target.value)} />
        </label>
        <label>
          {t("runs.until")}
          <input type="datetime-local" value={filter.get("until") ?? ""} onChange={(e) => set("until", e.target.value)} />
        </label>
      </form>
      <Problem error={runs.error} />
      {runs.data && (
        <RunTable runs={runs.data.items} names={names} lang={i18n.language} />
      )}
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
    <table>
      <thead>
        <tr>
          <th scope="col">{t("runs.status")}</th>
          <th scope="col">{t("runs.module")}</th>
          <th scope="col">{t("runs.requester")}</th>
          <th scope="col">{t("execution.submitted")}</th>
          <th scope="col">{t("execution.reason")}</th>
        </tr>
      </thead>
      <tbody>
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
      </tbody>
    </table>
  );
}

/** A datetime-local value (the user's own zone) as an RFC 3339 instant. */
function toIso(local: string | null): string | undefined {
  if (!local) return undefined;
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}
