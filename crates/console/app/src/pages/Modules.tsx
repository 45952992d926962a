import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { useSession } from "../auth/context";
import { Problem } from "../components/Problem";
import { useLoad } from "../components/useLoad";
import { formatTime } from "../i18n";

export function Modules() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const modules = useLoad(() => api.modules(), [api]);
  return (
    <section>
      <h1>{t("modules.title")}</h1>
      <Problem error={modules.error} />
      {modules.data && modules.data.items.length === 0 && <p>{t("modules.none")}</p>}
      {modules.data && modules.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("modules.name")}</th>
              <th scope="col">{t("modules.latestVersion")}</th>
              <th scope="col">{t("common.created")}</th>
            </tr>
          </thead>
          <tbody>
            {modules.data.items.map((m) => (
              <tr key={m.id}>
                <td>
                  <Link to={`/modules/${m.id}`}>{m.name}</Link>
                </td>
                <td>v{m.latest_version}</td>
                <td>{formatTime(m.created_at, i18n.language)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
