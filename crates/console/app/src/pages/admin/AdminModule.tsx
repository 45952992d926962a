import { type FormEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router-dom";

import type { Assignment, Retention } from "../../api/types";
import { useSession } from "../../auth/context";
import { Field, FormProblem, fieldMessage } from "../../components/Field";
import { DefinitionEditor } from "../../components/JsonEditor";
import { Problem } from "../../components/Problem";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";
import { definitionOf } from "./definition";
import { Table } from "../../components/Table";

export function AdminModule() {
  const { t, i18n } = useTranslation();
  const { id = "" } = useParams();
  const { api } = useSession();
  const module = useLoad(() => api.module(id), [api, id]);
  const [text, setText] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [notice, setNotice] = useState<string>();

  // The editor starts from the latest version; a reload (after retiring a version)
  // leaves the admin's draft alone.
  useEffect(() => {
    const latest = module.data;
    if (latest) setText((draft) => draft ?? JSON.stringify(definitionOf(latest), null, 2));
  }, [module.data]);

  if (module.error) return <Problem error={module.error} />;
  if (!module.data) return <p role="status">{t("common.loading")}</p>;
  const latest = module.data;
  const versions = Array.from({ length: latest.latest_version }, (_, i) => i + 1);

  async function retire(version: number) {
    setFailure(undefined);
    try {
      await api.retireVersion(id, version);
      module.reload();
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section>
      <h1>
        {latest.name} <span className="muted">v{latest.latest_version}</span>
      </h1>
      <p>
        <Link to={`/modules/${id}`}>{t("adminModule.runPage")}</Link>
      </p>
      <h2>{t("adminModule.versions")}</h2>
      <Table headers={[t("modules.version"), t("adminModule.state"), ""]}>
        {versions.map((v) => {
          const runnable = latest.runnable_versions.includes(v);
          return (
            <tr key={v}>
              <td>v{v}</td>
              <td>{runnable ? t("adminModule.runnable") : t("adminModule.retired")}</td>
              <td>
                {runnable && (
                  <button type="button" onClick={() => void retire(v)}>
                    {t("adminModule.retire", { version: v })}
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </Table>
      <Problem error={failure} />
      <p className="muted">{t("adminModule.created", { at: formatTime(latest.version_created_at, i18n.language) })}</p>
      <h2>{t("adminModule.newVersion")}</h2>
      {text !== undefined && (
        <DefinitionEditor
          id="new-version"
          label={t("adminModules.definition")}
          text={text}
          onChange={setText}
          submitLabel={t("adminModule.addVersion")}
          onSubmit={async (definition) => {
            const created = await api.createVersion(id, definition);
            setNotice(t("adminModule.versionCreated", { version: created.version }));
            setText(undefined);
            module.reload();
          }}
        />
      )}
      {notice && <p role="status">{notice}</p>}
      <RetentionForm moduleId={id} retention={latest.retention} onSaved={module.reload} />
      <Assignments moduleId={id} />
    </section>
  );
}

/** How long the module's runs keep their log, artifacts and finding history: its own
 * days, set here, or the deployment's default. */
function RetentionForm(props: { moduleId: string; retention: Retention; onSaved: () => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [days, setDays] = useState(props.retention.days?.toString() ?? "");
  const [failure, setFailure] = useState<unknown>();

  async function save(to: number | null) {
    setFailure(undefined);
    try {
      await api.setRetention(props.moduleId, to);
      if (to === null) setDays("");
      props.onSaved();
    } catch (error) {
      setFailure(error);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    // The API judges the number: its refusal is shown beside the field.
    void save(Number(days));
  }

  const own = props.retention.days !== null && props.retention.days !== undefined;
  return (
    <form onSubmit={submit} className="stack" aria-labelledby="retention-title" noValidate>
      <h2 id="retention-title">{t("adminModule.retention")}</h2>
      <p data-testid="retention">
        {t(own ? "adminModule.keepsOwn" : "adminModule.keepsDefault", { count: props.retention.effective_days })}
      </p>
      <Field id="retention-days" label={t("adminModule.retentionDays")} error={fieldMessage(failure, "days")}>
        <input
          id="retention-days"
          type="number"
          min={1}
          max={36500}
          value={days}
          onChange={(e) => setDays(e.target.value)}
        />
      </Field>
      <div className="buttons">
        <button type="submit" className="primary">
          {t("adminModule.setRetention")}
        </button>
        {own && (
          <button type="button" onClick={() => void save(null)}>
            {t("adminModule.retentionToDefault")}
          </button>
        )}
      </div>
      <FormProblem error={failure} shown={["days"]} />
    </form>
  );
}

interface Row {
  kind: "user" | "group";
  principal: string;
  run: boolean;
  view: boolean;
}

function Assignments({ moduleId }: { moduleId: string }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const loaded = useLoad(() => api.assignments(moduleId), [api, moduleId]);
  const [rows, setRows] = useState<Row[]>([]);
  const [failure, setFailure] = useState<unknown>();
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (loaded.data) setRows(loaded.data.assignments.map(toRow));
  }, [loaded.data]);

  function update(index: number, change: Partial<Row>) {
    setSaved(false);
    setRows((all) => all.map((row, i) => (i === index ? { ...row, ...change } : row)));
  }

  async function save() {
    setFailure(undefined);
    try {
      const answer = await api.replaceAssignments(moduleId, rows.map(toAssignment));
      setRows(answer.assignments.map(toRow));
      setSaved(true);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section aria-labelledby="assignments-title">
      <h2 id="assignments-title">{t("assignments.title")}</h2>
      <Problem error={loaded.error ?? failure} />
      <Table
        headers={[t("assignments.kind"), t("assignments.principal"), t("assignments.run"), t("assignments.view"), ""]}
      >
        {rows.map((row, i) => (
          <tr key={i}>
            <td>
              <select
                aria-label={t("assignments.kind")}
                value={row.kind}
                onChange={(e) => update(i, { kind: e.target.value as Row["kind"] })}
              >
                <option value="user">{t("assignments.user")}</option>
                <option value="group">{t("assignments.group")}</option>
              </select>
            </td>
            <td>
              <input
                aria-label={t("assignments.principal")}
                value={row.principal}
                onChange={(e) => update(i, { principal: e.target.value })}
              />
            </td>
            <td>
              <input
                type="checkbox"
                aria-label={t("assignments.run")}
                checked={row.run}
                onChange={(e) => update(i, { run: e.target.checked })}
              />
            </td>
            <td>
              <input
                type="checkbox"
                aria-label={t("assignments.view")}
                checked={row.view}
                onChange={(e) => update(i, { view: e.target.checked })}
              />
            </td>
            <td>
              <button type="button" onClick={() => setRows((all) => all.filter((_, j) => j !== i))}>
                {t("assignments.remove")}
              </button>
            </td>
          </tr>
        ))}
      </Table>
      <div className="buttons">
        <button
          type="button"
          onClick={() => setRows((all) => [...all, { kind: "user", principal: "", run: true, view: true }])}
        >
          {t("assignments.add")}
        </button>
        <button type="button" className="primary" onClick={() => void save()}>
          {t("assignments.save")}
        </button>
        {saved && <span role="status">{t("assignments.saved")}</span>}
      </div>
    </section>
  );
}

function toRow(a: Assignment): Row {
  return {
    kind: a.group !== undefined ? "group" : "user",
    principal: a.group ?? a.user ?? "",
    run: a.permissions.includes("run"),
    view: a.permissions.includes("view"),
  };
}

function toAssignment(row: Row): Assignment {
  const permissions: Assignment["permissions"] = [];
  if (row.run) permissions.push("run");
  if (row.view) permissions.push("view");
  return row.kind === "group" ? { group: row.principal, permissions } : { user: row.principal, permissions };
}
