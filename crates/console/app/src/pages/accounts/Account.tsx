import { useTranslation } from "react-i18next";
import { useParams } from "react-router-dom";

import { hasRole, useSession } from "../../auth/context";
import { AccountForm } from "../../components/AccountForm";
import { Problem } from "../../components/Problem";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";

/** One account: what it holds now, each version before, and (admins) an edit. */
export function AccountPage() {
  const { t, i18n } = useTranslation();
  const { id = "" } = useParams();
  const session = useSession();
  const account = useLoad(() => session.api.account(id), [session.api, id]);
  const a = account.data;
  return (
    <section>
      <h1>{a ? `${a.name} (${a.id})` : t("accounts.title")}</h1>
      <Problem error={account.error} />
      {a && (
        <>
          <dl className="facts">
            <dt>{t("accounts.roleArn")}</dt>
            <dd className="wrap">{a.role_arn}</dd>
            <dt>{t("accounts.externalId")}</dt>
            <dd>{a.external_id_set ? t("accounts.set") : "—"}</dd>
            <dt>{t("accounts.regions")}</dt>
            <dd>{a.regions.join(", ") || "—"}</dd>
            <dt>{t("accounts.version")}</dt>
            <dd data-testid="account-version">{a.version}</dd>
          </dl>
          <h2>{t("accounts.versions")}</h2>
          <Table headers={[t("accounts.version"), t("accounts.name"), t("accounts.role"), t("accounts.changed")]}>
            {a.versions.map((v) => (
              <tr key={v.version}>
                <td>{v.version}</td>
                <td>{v.name}</td>
                <td className="wrap">{v.role}</td>
                <td>
                  {formatTime(v.changed_at, i18n.language)} {v.changed_by ?? t("accounts.byImport")}
                </td>
              </tr>
            ))}
          </Table>
          {hasRole(session, "admin") && <AccountForm key={a.version} account={a} onSaved={account.reload} />}
        </>
      )}
    </section>
  );
}
