import type { ErrorSchema } from "@rjsf/utils";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";

import { ApiError } from "../api/client";
import type { FieldProblem, JsonSchema, RawParam, Tool } from "../api/types";
import { useSession } from "../auth/context";
import { ParamsForm } from "../components/ParamsForm";
import { Problem } from "../components/Problem";
import { StatusBadge } from "../components/Status";
import { useLoad } from "../components/useLoad";
import { formSchema, placeErrors, runParams } from "../forms/params";
import { browserErrors } from "../forms/validator";
import { formatTime } from "../i18n";

const SEVERITIES = ["critical", "high", "medium", "low", "informational"];

export function Scanners() {
  const { t } = useTranslation();
  const { api } = useSession();
  const tools = useLoad(() => api.tools(), [api]);
  return (
    <section>
      <h1>{t("scanners.title")}</h1>
      <p className="muted">{t("scanners.explain")}</p>
      <Problem error={tools.error} />
      {tools.data?.items.map((tool) => <ToolCard key={tool.name} tool={tool} />)}
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
                {SEVERITIES.map((s) => (
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
                  {SEVERITIES.map((s) => (
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
  const navigate = useNavigate();
  const [data, setData] = useState<Record<string, unknown>>({});
  const [fieldErrors, setFieldErrors] = useState<ErrorSchema>();
  const [elsewhere, setElsewhere] = useState<FieldProblem[]>([]);
  const [failure, setFailure] = useState<unknown>();

  async function submit() {
    setFieldErrors(undefined);
    setElsewhere([]);
    setFailure(undefined);
    const invalid = browserErrors(formSchema(props.schema), runParams(data));
    if (invalid) {
      setFieldErrors(invalid);
      return;
    }
    try {
      const execution = await api.runTool(props.tool.name, runParams(data));
      navigate(`/executions/${execution.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.fields.length > 0) {
        const placed = placeErrors(error.fields, props.schema, "");
        setFieldErrors(placed.byField);
        setElsewhere(placed.elsewhere);
      } else setFailure(error);
    }
  }

  return (
    <div className="run-form">
      <p className="muted">{t("scanners.roleHint")}</p>
      <ParamsForm
        schema={props.schema}
        declared={props.declared}
        data={data}
        onChange={setData}
        fieldErrors={fieldErrors}
        elsewhere={elsewhere}
        idPrefix={props.tool.name}
      />
      <Problem error={failure} />
      <button type="button" className="primary" onClick={() => void submit()}>
        {t("scanners.run", { tool: t(`tools.${props.tool.name}`) })}
      </button>
    </div>
  );
}
