import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";

import type { ScanBody } from "../../api/types";
import { useSession } from "../../auth/context";
import { listOf, tagsOf } from "../../components/AccountForm";
import { Problem } from "../../components/Problem";
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
  const [tool, setTool] = useState("custodian");
  const [by, setBy] = useState<"tags" | "ids">("tags");
  const [accounts, setAccounts] = useState("");
  const [regions, setRegions] = useState("");
  const [params, setParams] = useState("{}");
  const [cap, setCap] = useState(10);
  const [failure, setFailure] = useState<unknown>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    try {
      const body: ScanBody = {
        tool,
        params: JSON.parse(params) as ScanBody["params"],
        max_concurrency: cap,
        ...(by === "tags" ? { account_tags: tagsOf(accounts) } : { account_ids: listOf(accounts) }),
        ...(regions.trim() ? { regions: listOf(regions) } : {}),
      };
      const scan = await api.startScan(body);
      navigate(`/scans/${scan.id}`);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="scan-form">
      <h2 id="scan-form">{t("scans.new")}</h2>
      <label htmlFor="scan-tool">{t("scans.tool")}</label>
      <select id="scan-tool" value={tool} onChange={(e) => setTool(e.target.value)}>
        {["prowler", "scout", "steampipe", "custodian"].map((name) => (
          <option key={name} value={name}>
            {t(`tools.${name}`)}
          </option>
        ))}
      </select>
      <fieldset className="segmented">
        <legend>{t("scans.which")}</legend>
        <label className="inline">
          <input type="radio" name="scan-by" checked={by === "tags"} onChange={() => setBy("tags")} />{" "}
          {t("scans.byTags")}
        </label>
        <label className="inline">
          <input type="radio" name="scan-by" checked={by === "ids"} onChange={() => setBy("ids")} /> {t("scans.byIds")}
        </label>
      </fieldset>
      <label htmlFor="scan-accounts">{by === "tags" ? t("scans.tags") : t("scans.ids")}</label>
      <textarea id="scan-accounts" rows={2} value={accounts} onChange={(e) => setAccounts(e.target.value)} />
      <label htmlFor="scan-regions">{t("scans.regions")}</label>
      <input id="scan-regions" value={regions} onChange={(e) => setRegions(e.target.value)} />
      <label htmlFor="scan-params">{t("scans.params")}</label>
      <textarea id="scan-params" rows={5} className="code" value={params} onChange={(e) => setParams(e.target.value)} />
      <label htmlFor="scan-cap">{t("scans.cap")}</label>
      <input
        id="scan-cap"
        type="number"
        min={1}
        max={1000}
        value={cap}
        onChange={(e) => setCap(Number(e.target.value))}
      />
      <div className="buttons">
        <button type="submit" className="primary">
          {t("scans.start")}
        </button>
      </div>
      <Problem error={failure} />
    </form>
  );
}
