import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useParams } from "react-router-dom";

import { useSession } from "../auth/context";
import { ParamsForm } from "../components/ParamsForm";
import { Problem } from "../components/Problem";
import { useLoad } from "../components/useLoad";
import { useRunForm } from "../forms/useRunForm";

export function ModuleRun() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const { api } = useSession();
  const [version, setVersion] = useState<number | undefined>();
  const latest = useLoad(() => api.module(id), [api, id]);
  const shown = useLoad(() => (version ? api.moduleVersion(id, version) : api.module(id)), [api, id, version]);
  const form = useRunForm(shown.data?.params_schema, "params.");

  const module = shown.data;
  if (latest.error || shown.error) return <Problem error={latest.error ?? shown.error} />;
  if (!module || !latest.data) return <p role="status">{t("common.loading")}</p>;
  const runnable = latest.data.runnable_versions;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (module) void form.submit((params) => api.submit(module.id, params, version));
  }

  return (
    <section>
      <h1>
        {module.name} <span className="muted">v{module.version}</span>
      </h1>
      {module.description && <p>{module.description}</p>}
      <dl className="facts">
        <dt>{t("modules.approvals")}</dt>
        <dd>
          {module.approval.required === 0
            ? t("modules.noApproval")
            : t("modules.needsApprovals", { count: module.approval.required })}
        </dd>
        <dt>{t("modules.limits")}</dt>
        <dd>
          {t("modules.limitsText", {
            timeout: module.limits["timeout_sec"],
            memory: module.limits["memory_mb"],
            cpus: module.limits["cpus"],
          })}
        </dd>
        <dt>{t("modules.network")}</dt>
        <dd>{t(`modules.networks.${module.network}`, { defaultValue: module.network })}</dd>
      </dl>
      {!module.permissions.run ? (
        <p className="notice">{t("modules.viewOnly")}</p>
      ) : (
        <form onSubmit={submit} className="run-form" aria-labelledby="run-form-title" noValidate>
          <h2 id="run-form-title">{t("modules.runForm")}</h2>
          {runnable.length > 1 && (
            <p>
              <label htmlFor="run-version">{t("modules.version")}</label>{" "}
              <select
                id="run-version"
                value={version ?? ""}
                onChange={(e) => setVersion(e.target.value ? Number(e.target.value) : undefined)}
              >
                <option value="">{t("modules.latest", { version: latest.data.latest_version })}</option>
                {runnable.map((v) => (
                  <option key={v} value={v}>
                    v{v}
                  </option>
                ))}
              </select>
            </p>
          )}
          <ParamsForm schema={module.params_schema} declared={module.params} form={form} idPrefix="param" />
          <button type="submit" className="primary" disabled={form.busy}>
            {t("modules.run")}
          </button>
        </form>
      )}
    </section>
  );
}
