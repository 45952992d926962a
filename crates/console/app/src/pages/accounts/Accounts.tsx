import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { CloudAccount } from "../../api/types";
import { hasRole, useSession } from "../../auth/context";
import { AccountForm } from "../../components/AccountForm";
import { AccountImport } from "../../components/AccountImport";
import { Problem } from "../../components/Problem";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";

/** The organisation's cloud accounts, filtered by tags; admins add and import them. */
export function Accounts() {
  const { t } = useTranslation();
  const session = useSession();
  const [tags, setTags] = useState("");
  const accounts = useLoad(() => session.api.accounts(tags || undefined), [session.api, tags]);
  const admin = hasRole(session, "admin");
  return (
    <section>
      <h1>{t("accounts.title")}</h1>
      <label htmlFor="accounts-tags">{t("accounts.filterTags")}</label>
      <input id="accounts-tags" value={tags} placeholder="env=prod" onChange={(e) => setTags(e.target.value)} />
      <Problem error={accounts.error} />
      {accounts.data && <AccountTable accounts={accounts.data.items} />}
      {admin && (
        <div className="columns">
          <AccountForm onSaved={accounts.reload} />
          <AccountImport onDone={accounts.reload} />
        </div>
      )}
    </section>
  );
}

function AccountTable({ accounts }: { accounts: CloudAccount[] }) {
  const { t } = useTranslation();
  if (accounts.length === 0) return <p className="muted">{t("accounts.none")}</p>;
  return (
    <Table
      headers={[
        t("accounts.id"),
        t("accounts.name"),
        t("accounts.roleArn"),
        t("accounts.regions"),
        t("accounts.tags"),
        t("accounts.source"),
      ]}
    >
      {accounts.map((a) => (
        <tr key={a.id} data-account={a.id}>
          <td>
            <Link to={`/accounts/${a.id}`}>{a.id}</Link>
          </td>
          <td>{a.name}</td>
          <td className="wrap">{a.role_arn}</td>
          <td>{a.regions.join(", ") || "—"}</td>
          <td>
            {Object.entries(a.tags as Record<string, string>).map(([k, v]) => (
              <span key={k} className="tag">
                {k}={v}
              </span>
            ))}
          </td>
          <td>
            {t(`accounts.sources.${a.source}`, { defaultValue: a.source })}
            {a.org_status ? ` (${a.org_status})` : ""}
          </td>
        </tr>
      ))}
    </Table>
  );
}
