import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { type JsonSchema, type RawParam, SEVERITIES, type Tool } from "../api/types";
import { useSession } from "../auth/context";
import { ParamsForm } from "../components/ParamsForm";
import { Problem } from "../components/Problem";
import { StatusBadge } from "../components/Status";
import { useLoad } from "../components/useLoad";
import { useRunForm } from "../forms/useRunForm";
import { formatTime } from "../i18n";

// Tools grade nothing "unknown" in their counts' columns; a finding's page shows it.
const SEVERITY_COLUMNS = SEVERITIES.filter((s) => s !== "unknown");

export function Scanners() {
  const { t } = useTranslation();
  const { api } = useSession();
  const tools = useLoad(() => api.tools(), [api]);
  return (
    <section>
      <h1>{t("scanners.title")}</h1>
      <p className="muted">{t("scanners.explain")}</p>
      <Problem error={tools.error} />
      {tools.data?.items.map((tool) => (
        <ToolCard key={tool.name} tool={tool} />
      ))}
    </section>
  );
}

function ToolCard({ tool }: { tool: Tool }) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const latest = useLoad(() => api.latestRun(tool.name).catch(() => undefined), [api, tool.name]);
  const module = useLoad(
    () => (tool.module_id ? api.module(tool.module_id).catch(() => undefined) : Promise.resolve(undefined)),
    [api, tool.module_id],
  );
  const [open, setOpen] = useState(false);
  const run = latest.data;
  const counts = run?.counts ?? {};
  return (
    <article className="card tool" aria-labelledby={`tool-${tool.name}`} data-testid={`tool-${tool.name}`}>
      <h2 id={`tool-${tool.name}`}>
        {t(`tools.${tool.name}`)} {tool.tool_version && <span className="muted">{tool.tool_version}</span>}
      </h2>
      <p>
        {tool.available ? (
          <span className="ok">✔ {t("scanners.available")}</span>
        ) : (
          <span className="bad">
            ✖ {t("scanners.unavailable")}: {tool.unavailable_reason}
          </span>
        )}
      </p>
      {run ? (
        <>
          <p>
            {t("scanners.latest")}: <StatusBadge status={run.execution.status} />{" "}
            <Link to={`/executions/${run.execution.id}`}>{formatTime(run.finished_at, i18n.language)}</Link>
          </p>
          <table className="counts">
            <thead>
              <tr>
                <th scope="col">{t("scanners.findingStatus")}</th>
                {SEVERITY_COLUMNS.map((s) => (
                  <th scope="col" key={s}>
                    {t(`severity.${s}`)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {Object.entries(counts).map(([status, bySeverity]) => (
                <tr key={status}>
                  <th scope="row">{t(`findingStatus.${status}`, { defaultValue: status })}</th>
                  {SEVERITY_COLUMNS.map((s) => (
                    <td key={s}>{bySeverity[s] ?? 0}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : (
        <p className="muted">{t("scanners.neverRun")}</p>
      )}
      {tool.available && module.data?.permissions.run && (
        <>
          <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
            {t("scanners.runForm")}
          </button>
          {open && <ToolRunForm tool={tool} schema={module.data.params_schema} declared={module.data.params} />}
        </>
      )}
    </article>
  );
}

function ToolRunForm(props: { tool: Tool; schema: JsonSchema; declared: RawParam[] }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const form = useRunForm(props.schema, "");
  return (
    <div className="run-form">
      <p className="muted">{t("scanners.roleHint")}</p>
      <ParamsForm schema={props.schema} declared={props.declared} form={form} idPrefix={props.tool.name} />
      <button
        type="button"
        className="primary"
        disabled={form.busy}
        onClick={() => void form.submit((params) => api.runTool(props.tool.name, params))}
      >
        {t("scanners.run", { tool: t(`tools.${props.tool.name}`) })}
      </button>
    </div>
  );
}
