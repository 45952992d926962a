import { type FormEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Evidence as Report, TOOLS, type ToolName } from "../api/types";
import { useSession } from "../auth/context";
import { formatBytes } from "../components/Artifacts";
import { PastReports } from "../components/PastReports";
import { useLoad } from "../components/useLoad";
import { Problem } from "../components/Problem";

/** One evidence PDF from the latest run of each chosen tool, or from chosen runs. */
export function Evidence() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [tools, setTools] = useState<ToolName[]>([...TOOLS]);
  const [ids, setIds] = useState("");
  const [title, setTitle] = useState("");
  const [lang, setLang] = useState<"en" | "ko">("en");
  const [compliance, setCompliance] = useState("");
  const frameworks = useLoad(() => api.frameworks(), [api]);
  const [report, setReport] = useState<Report>();
  const [failure, setFailure] = useState<unknown>();

  // A report is built by a worker: follow it until it is ready or failed.
  const [looks, setLooks] = useState(0);
  useEffect(() => {
    if (!report || report.status === "ready" || report.status === "failed") return;
    let current = true;
    const timer = setTimeout(() => {
      api.evidence(report.id).then(
        (fresh) => {
          if (current) setReport(fresh);
        },
        (error: unknown) => {
          if (!current) return;
          setFailure(error);
          // A failed look is not the report's end: look again.
          setLooks((n) => n + 1);
        },
      );
    }, 1500);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api, report, looks]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    setReport(undefined);
    const executionIds = ids.split(/[\s,]+/).filter(Boolean);
    try {
      setReport(
        await api.requestEvidence({
          lang,
          ...(title ? { title } : {}),
          ...(compliance ? { compliance } : {}),
          ...(executionIds.length > 0 ? { execution_ids: executionIds } : { tools }),
        }),
      );
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section>
      <h1>{t("evidence.title")}</h1>
      <form onSubmit={submit} className="stack" aria-label={t("evidence.title")}>
        <fieldset>
          <legend>{t("evidence.latestOf")}</legend>
          {TOOLS.map((tool) => (
            <label key={tool} className="inline">
              <input
                type="checkbox"
                checked={tools.includes(tool)}
                onChange={(e) => setTools(e.target.checked ? [...tools, tool] : tools.filter((x) => x !== tool))}
              />{" "}
              {t(`tools.${tool}`)}
            </label>
          ))}
        </fieldset>
        <label htmlFor="evidence-ids">{t("evidence.orRuns")}</label>
        <textarea id="evidence-ids" rows={2} value={ids} onChange={(e) => setIds(e.target.value)} />
        <label htmlFor="evidence-title">{t("evidence.reportTitle")}</label>
        <input id="evidence-title" value={title} onChange={(e) => setTitle(e.target.value)} />
        <label htmlFor="evidence-lang">{t("evidence.language")}</label>
        <select id="evidence-lang" value={lang} onChange={(e) => setLang(e.target.value as "en" | "ko")}>
          <option value="en">{t("languages.en")}</option>
          <option value="ko">{t("languages.ko")}</option>
        </select>
        <label htmlFor="evidence-compliance">{t("evidence.compliance")}</label>
        <select id="evidence-compliance" value={compliance} onChange={(e) => setCompliance(e.target.value)}>
          <option value="">{t("evidence.noCompliance")}</option>
          {frameworks.data?.items.map((f) => (
            <option key={f.name} value={f.name}>
              {f.title} ({f.name})
            </option>
          ))}
        </select>
        <button type="submit" className="primary">
          {t("evidence.build")}
        </button>
      </form>
      <Problem error={failure} />
      {report && (
        <div className="card" role="status">
          <p>
            {t("evidence.state")}: <strong>{t(`evidence.status.${report.status}`)}</strong>
            {report.error && ` — ${report.error}`}
          </p>
          {report.pdf && (
            <p>
              <a href={report.pdf.url} rel="noreferrer">
                {t("evidence.download")} ({formatBytes(report.pdf.size)})
              </a>
            </p>
          )}
        </div>
      )}
      <PastReports latest={report?.status} />
    </section>
  );
}
