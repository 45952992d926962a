import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { ModuleSummary } from "../api/types";
import { formatTime } from "../i18n";
import { Table } from "./Table";

/** Modules by name, each linking to `${linkBase}/<id>`; with `retention`, how many
 * days each keeps its runs' logs, artifacts and finding history. */
export function ModuleTable({
  modules,
  linkBase,
  retention = false,
}: {
  modules: ModuleSummary[];
  linkBase: string;
  retention?: boolean;
}) {
  const { t, i18n } = useTranslation();
  const headers = [t("modules.name"), t("modules.latestVersion"), t("common.created")];
  return (
    <Table headers={retention ? [...headers, t("adminModules.retention")] : headers}>
      {modules.map((m) => (
        <tr key={m.id} data-module={m.id}>
          <td>
            <Link to={`${linkBase}/${m.id}`}>{m.name}</Link>
          </td>
          <td>v{m.latest_version}</td>
          <td>{formatTime(m.created_at, i18n.language)}</td>
          {retention && (
            <td data-testid="retention-days">
              {t("adminModules.days", { count: m.retention.effective_days })}
              {(m.retention.days === null || m.retention.days === undefined) && (
                <span className="muted"> ({t("adminModules.byDefault")})</span>
              )}
            </td>
          )}
        </tr>
      ))}
    </Table>
  );
}
