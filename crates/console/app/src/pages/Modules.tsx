import { useTranslation } from "react-i18next";

import { useSession } from "../auth/context";
import { ModuleTable } from "../components/ModuleTable";
import { Problem } from "../components/Problem";
import { useLoad } from "../components/useLoad";

export function Modules() {
  const { t } = useTranslation();
  const { api } = useSession();
  const modules = useLoad(() => api.modules(), [api]);
  return (
    <section>
      <h1>{t("modules.title")}</h1>
      <Problem error={modules.error} />
      {modules.data && modules.data.items.length === 0 && <p>{t("modules.none")}</p>}
      {modules.data && modules.data.items.length > 0 && (
        <ModuleTable modules={modules.data.items} linkBase="/modules" />
      )}
    </section>
  );
}
