import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { useSession } from "../../auth/context";
import { Field } from "../../components/Field";
import { Problem } from "../../components/Problem";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";
import { Table } from "../../components/Table";

const INTERPRETERS = ["python3", "bash", "sh"];

export function Scripts() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const scripts = useLoad(() => api.scripts(), [api]);
  const [path, setPath] = useState("");
  const [interpreter, setInterpreter] = useState("python3");
  const [description, setDescription] = useState("");
  const [failure, setFailure] = useState<unknown>();
  const [registered, setRegistered] = useState<string>();

  async function register(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    try {
      const script = await api.registerScript({ path, interpreter, description });
      setRegistered(t("scripts.registered", { path: script.path, sha256: script.sha256 }));
      setPath("");
      setDescription("");
      scripts.reload();
    } catch (error) {
      setFailure(error);
    }
  }

  const fieldError = (field: string) => (failure instanceof ApiError ? failure.fieldMessage(field) : undefined);
  return (
    <section>
      <h1>{t("scripts.title")}</h1>
      <form onSubmit={register} className="stack" aria-label={t("scripts.register")}>
        <h2>{t("scripts.register")}</h2>
        <Field id="script-path" label={t("scripts.path")} error={fieldError("path")} hint={t("scripts.pathHint")}>
          <input id="script-path" value={path} onChange={(e) => setPath(e.target.value)} required />
        </Field>
        <Field id="script-interpreter" label={t("scripts.interpreter")} error={fieldError("interpreter")}>
          <select id="script-interpreter" value={interpreter} onChange={(e) => setInterpreter(e.target.value)}>
            {INTERPRETERS.map((i) => (
              <option key={i}>{i}</option>
            ))}
          </select>
        </Field>
        <Field id="script-description" label={t("scripts.description")} error={fieldError("description")}>
          <input id="script-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <button type="submit" className="primary">
          {t("scripts.register")}
        </button>
        {registered && <p role="status">{registered}</p>}
        {failure instanceof ApiError && failure.fields.length === 0 && <Problem error={failure} />}
      </form>
      <Problem error={scripts.error} />
      {scripts.data && (
        <Table headers={[t("scripts.path"), t("scripts.interpreter"), "SHA-256", t("common.created")]}>
          {scripts.data.items.map((s) => (
            <tr key={s.id}>
              <td>
                {s.path}
                {s.description && <div className="muted">{s.description}</div>}
              </td>
              <td>{s.interpreter}</td>
              <td>
                <code className="hash">{s.sha256}</code>
              </td>
              <td>{formatTime(s.created_at, i18n.language)}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
