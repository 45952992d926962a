import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router-dom";

import { useSession } from "../../auth/context";
import { DefinitionEditor } from "../../components/JsonEditor";
import { ModuleTable } from "../../components/ModuleTable";
import { Problem } from "../../components/Problem";
import { useLoad } from "../../components/useLoad";
import { sampleModule } from "./definition";

export function AdminModules() {
  const { t } = useTranslation();
  const { api } = useSession();
  const navigate = useNavigate();
  const modules = useLoad(() => api.modules(), [api]);
  const scripts = useLoad(() => api.scripts(), [api]);
  const [text, setText] = useState<string>();

  return (
    <section>
      <h1>{t("adminModules.title")}</h1>
      <Problem error={modules.error ?? scripts.error} />
      {modules.data && <ModuleTable modules={modules.data.items} linkBase="/admin/modules" retention />}
      <h2>{t("adminModules.new")}</h2>
      {text === undefined ? (
        <p>
          <label htmlFor="new-module-script">{t("adminModules.fromScript")}</label>{" "}
          <select
            id="new-module-script"
            defaultValue=""
            onChange={(e) => e.target.value && setText(JSON.stringify(sampleModule(e.target.value), null, 2))}
          >
            <option value="" disabled>
              {t("adminModules.pickScript")}
            </option>
            {scripts.data?.items.map((s) => (
              <option key={s.id} value={s.id}>
                {s.path}
              </option>
            ))}
          </select>
        </p>
      ) : (
        <DefinitionEditor
          id="new-module"
          label={t("adminModules.definition")}
          text={text}
          onChange={setText}
          submitLabel={t("adminModules.create")}
          onSubmit={async (definition) => {
            const created = await api.createModule(definition);
            navigate(`/admin/modules/${created.id}`);
          }}
        />
      )}
    </section>
  );
}
