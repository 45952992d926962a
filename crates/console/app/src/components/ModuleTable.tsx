import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { ModuleSummary } from "../api/types";
import { formatTime } from "../i18n";
import { Table } from "./Table";

/** Modules by name, each linking to `${linkBase}/<id>`. */
export function ModuleTable({ modules, linkBase }: { modules: ModuleSummary[]; linkBase: string }) {
  const { t, i18n } = useTranslation();
  return (
    <Table headers={[t("modules.name"), t("modules.latestVersion"), t("common.created")]}>
      {modules.map((m) => (
        <tr key={m.id}>
          <td>
            <Link to={`${linkBase}/${m.id}`}>{m.name}</Link>
          </td>
          <td>v{m.latest_version}</td>
          <td>{formatTime(m.created_at, i18n.language)}</td>
        </tr>
      ))}
    </Table>
  );
}
