import { useTranslation } from "react-i18next";

import { type ScanBody, TOOLS } from "../api/types";
import { listOf, tagsOf } from "./AccountForm";

/** A scan as typed: the tool, which accounts (tags or ids), regions in place of the
 * accounts' own, the tool's options as JSON, and how many runs at once. */
export interface ScanFields {
  tool: string;
  by: "tags" | "ids";
  accounts: string;
  regions: string;
  params: string;
  cap: number;
}

export const NEW_SCAN: ScanFields = { tool: "custodian", by: "tags", accounts: "", regions: "", params: "{}", cap: 10 };

/** The scan the fields ask for (throws when the options are not JSON). */
export function scanBody(f: ScanFields): ScanBody {
  return {
    tool: f.tool,
    params: JSON.parse(f.params) as ScanBody["params"],
    max_concurrency: f.cap,
    ...(f.by === "tags" ? { account_tags: tagsOf(f.accounts) } : { account_ids: listOf(f.accounts) }),
    ...(f.regions.trim() ? { regions: listOf(f.regions) } : {}),
  };
}

/** The inputs of a scan, each id starting with `id` (`scan-tool`, `scan-accounts`…). */
export function ScanInputs({
  id,
  value,
  onChange,
}: {
  id: string;
  value: ScanFields;
  onChange: (next: ScanFields) => void;
}) {
  const { t } = useTranslation();
  const set = <K extends keyof ScanFields>(key: K, to: ScanFields[K]) => onChange({ ...value, [key]: to });
  return (
    <>
      <label htmlFor={`${id}-tool`}>{t("scans.tool")}</label>
      <select id={`${id}-tool`} value={value.tool} onChange={(e) => set("tool", e.target.value)}>
        {TOOLS.map((name) => (
          <option key={name} value={name}>
            {t(`tools.${name}`)}
          </option>
        ))}
      </select>
      <fieldset className="segmented">
        <legend>{t("scans.which")}</legend>
        <label className="inline">
          <input type="radio" name={`${id}-by`} checked={value.by === "tags"} onChange={() => set("by", "tags")} />{" "}
          {t("scans.byTags")}
        </label>
        <label className="inline">
          <input type="radio" name={`${id}-by`} checked={value.by === "ids"} onChange={() => set("by", "ids")} />{" "}
          {t("scans.byIds")}
        </label>
      </fieldset>
      <label htmlFor={`${id}-accounts`}>{value.by === "tags" ? t("scans.tags") : t("scans.ids")}</label>
      <textarea
        id={`${id}-accounts`}
        rows={2}
        value={value.accounts}
        onChange={(e) => set("accounts", e.target.value)}
      />
      <label htmlFor={`${id}-regions`}>{t("scans.regions")}</label>
      <input id={`${id}-regions`} value={value.regions} onChange={(e) => set("regions", e.target.value)} />
      <label htmlFor={`${id}-params`}>{t("scans.params")}</label>
      <textarea
        id={`${id}-params`}
        rows={5}
        className="code"
        value={value.params}
        onChange={(e) => set("params", e.target.value)}
      />
      <label htmlFor={`${id}-cap`}>{t("scans.cap")}</label>
      <input
        id={`${id}-cap`}
        type="number"
        min={1}
        max={1000}
        value={value.cap}
        onChange={(e) => set("cap", Number(e.target.value))}
      />
    </>
  );
}
