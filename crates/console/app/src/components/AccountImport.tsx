import { type FormEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import type { AccountImport as Import } from "../api/types";
import { useSession } from "../auth/context";
import { listOf } from "./AccountForm";
import { Problem } from "./Problem";

/** Imports the organisation's accounts from AWS Organizations (admins): a worker
 * assumes the management account's role and lists them; this follows it to its end. */
export function AccountImport({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [arn, setArn] = useState("");
  const [role, setRole] = useState("OrganizationAccountAccessRole");
  const [regions, setRegions] = useState("");
  const [failure, setFailure] = useState<unknown>();
  const [current, setCurrent] = useState<Import>();

  useEffect(() => {
    if (!current || current.status === "succeeded" || current.status === "failed") return;
    const timer = setTimeout(() => {
      api.accountImport(current.id).then((next) => {
        setCurrent(next);
        if (next.status === "succeeded") onDone();
      }, setFailure);
    }, 500);
    return () => clearTimeout(timer);
  }, [api, current, onDone]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    try {
      setCurrent(await api.importAccounts({ management_role_arn: arn, role, regions: listOf(regions) }));
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="account-import">
      <h2 id="account-import">{t("accounts.import")}</h2>
      <label htmlFor="import-arn">{t("accounts.managementRole")}</label>
      <input id="import-arn" value={arn} onChange={(e) => setArn(e.target.value)} />
      <label htmlFor="import-role">{t("accounts.memberRole")}</label>
      <input id="import-role" value={role} onChange={(e) => setRole(e.target.value)} />
      <label htmlFor="import-regions">{t("accounts.regions")}</label>
      <input id="import-regions" value={regions} onChange={(e) => setRegions(e.target.value)} />
      <div className="buttons">
        <button type="submit" disabled={!!current && ["queued", "running"].includes(current.status)}>
          {t("accounts.importButton")}
        </button>
      </div>
      {current && (
        <p role="status" data-import-status={current.status}>
          {current.status === "failed"
            ? t("accounts.importFailed", { error: current.error })
            : current.status === "succeeded"
              ? t("accounts.imported", { found: current.found, created: current.created, updated: current.updated })
              : t("accounts.importing")}
        </p>
      )}
      <Problem error={failure} />
    </form>
  );
}
