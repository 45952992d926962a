import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";

import { useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { NEW_SCAN, ScanInputs, scanBody } from "../../components/ScanFields";
import { ScanProgress } from "../../components/ScanProgress";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";

/** Scans newest first (one's own, or all for admins and auditors), and a new one. */
export function Scans() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const scans = useLoad(() => api.scans(), [api]);
  return (
    <section>
      <h1>{t("scans.title")}</h1>
      <p className="muted">{t("scans.explain")}</p>
      <Problem error={scans.error} />
      {scans.data &&
        (scans.data.items.length === 0 ? (
          <p className="muted">{t("scans.none")}</p>
        ) : (
          <Table headers={[t("scans.started"), t("scans.tool"), t("scans.status"), t("scans.progress")]}>
            {scans.data.items.map((scan) => (
              <tr key={scan.id} data-scan={scan.id}>
                <td>
                  <Link to={`/scans/${scan.id}`}>{formatTime(scan.created_at, i18n.language)}</Link>
                </td>
                <td>{t(`tools.${scan.tool}`, { defaultValue: scan.tool })}</td>
                <td>{t(`scans.statuses.${scan.status}`)}</td>
                <td>
                  <ScanProgress scan={scan} />
                </td>
              </tr>
            ))}
          </Table>
        ))}
      <ScanForm />
    </section>
  );
}

/** A scan: the tool, which accounts (tags or ids), regions in place of the accounts'
 * own, the tool's options as JSON, and how many runs at once. */
function ScanForm() {
  const { t } = useTranslation();
  const { api } = useSession();
  const navigate = useNavigate();
  const [fields, setFields] = useState(NEW_SCAN);
  const [failure, setFailure] = useState<unknown>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    try {
      const scan = await api.startScan(scanBody(fields));
      navigate(`/scans/${scan.id}`);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="scan-form">
      <h2 id="scan-form">{t("scans.new")}</h2>
      <ScanInputs id="scan" value={fields} onChange={setFields} />
      <div className="buttons">
        <button type="submit" className="primary">
          {t("scans.start")}
        </button>
      </div>
      <Problem error={failure} />
    </form>
  );
}
