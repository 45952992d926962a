import { useState } from "react";
import { useTranslation } from "react-i18next";

import type { Evidence } from "../api/types";
import { useSession } from "../auth/context";
import { formatTime } from "../i18n";
import { Problem } from "./Problem";
import { Table } from "./Table";
import { useLoad } from "./useLoad";

/** The reports the caller may read, newest first; each PDF through a fresh link.
 * `latest` is the status of the report just asked for: the list follows it. */
export function PastReports({ latest }: { latest?: string }) {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const listed = useLoad(() => api.evidenceList({ limit: 20 }), [api, latest]);
  const [failure, setFailure] = useState<unknown>();

  async function download(report: Evidence, what: "pdf" | "pack") {
    setFailure(undefined);
    try {
      const file = (await api.evidence(report.id))[what];
      if (file) window.location.assign(file.url);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section aria-labelledby="past-reports">
      <h2 id="past-reports">{t("evidence.past")}</h2>
      <Problem error={listed.error ?? failure} />
      {listed.data?.items.length === 0 && <p className="muted">{t("evidence.none")}</p>}
      {listed.data && listed.data.items.length > 0 && (
        <Table
          headers={[
            t("evidence.created"),
            t("evidence.reportTitle"),
            t("evidence.state"),
            t("evidence.scope"),
            t("evidence.by"),
            "",
          ]}
        >
          {listed.data.items.map((report) => (
            <tr key={report.id} data-report={report.id} data-status={report.status}>
              <td>{formatTime(report.created_at, i18n.language)}</td>
              <td className="wrap">{report.title}</td>
              <td>{t(`evidence.status.${report.status}`)}</td>
              <td>
                {[
                  report.tools?.map((tool) => t(`tools.${tool}`, { defaultValue: tool })).join(", "),
                  t("evidence.runs", { count: report.execution_ids.length }),
                  report.compliance,
                  report.lang.toUpperCase(),
                ]
                  .filter(Boolean)
                  .join(" · ")}
              </td>
              <td>{report.created_by}</td>
              <td>
                {report.status === "ready" && (
                  <span className="buttons">
                    <button type="button" onClick={() => void download(report, "pdf")}>
                      {t("evidence.pdf")}
                    </button>
                    <button type="button" onClick={() => void download(report, "pack")}>
                      {t("evidence.pack")}
                    </button>
                  </span>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
