import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import type { AccountBody, CloudAccount } from "../api/types";
import { useSession } from "../auth/context";
import { Problem } from "./Problem";

/** Lists as typed: separated by commas, spaces or new lines. */
export const listOf = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** `key=value` pairs, one per line or comma-separated, as tags. */
export function tagsOf(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of text.split(/[\n,]+/)) {
    const at = pair.indexOf("=");
    const key = (at < 0 ? pair : pair.slice(0, at)).trim();
    if (key) tags[key] = at < 0 ? "" : pair.slice(at + 1).trim();
  }
  return tags;
}

const tagsText = (tags: Record<string, string>) =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");

/** Adds an account, or edits `account` as of the version shown (admins). The external
 * id is written, never read back: left empty, an edit keeps the one held. */
export function AccountForm({ account, onSaved }: { account?: CloudAccount; onSaved: (saved: CloudAccount) => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [id, setId] = useState(account?.id ?? "");
  const [name, setName] = useState(account?.name ?? "");
  const [role, setRole] = useState(account?.role ?? "");
  const [externalId, setExternalId] = useState("");
  const [clear, setClear] = useState(false);
  const [regions, setRegions] = useState(account?.regions.join(", ") ?? "");
  const [tags, setTags] = useState(tagsText((account?.tags as Record<string, string>) ?? {}));
  const [failure, setFailure] = useState<unknown>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    const body: AccountBody = {
      name,
      role: role || null,
      external_id: externalId || null,
      regions: listOf(regions),
      tags: tagsOf(tags),
    };
    try {
      const saved = account
        ? await api.updateAccount(account.id, { ...body, version: account.version, clear_external_id: clear })
        : await api.createAccount({ ...body, id });
      setExternalId("");
      onSaved(saved);
    } catch (error) {
      setFailure(error);
    }
  }

  const field = (key: string, label: string, value: string, set: (v: string) => void, type = "text") => (
    <>
      <label htmlFor={`account-${key}`}>{label}</label>
      <input id={`account-${key}`} type={type} value={value} onChange={(e) => set(e.target.value)} />
    </>
  );
  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="account-form">
      <h2 id="account-form">{account ? t("accounts.edit") : t("accounts.add")}</h2>
      {!account && field("id", t("accounts.id"), id, setId)}
      {field("name", t("accounts.name"), name, setName)}
      {field("role", t("accounts.role"), role, setRole)}
      <p className="muted">{t("accounts.roleHint")}</p>
      {field("external-id", t("accounts.externalId"), externalId, setExternalId, "password")}
      {account?.external_id_set && (
        <label className="inline">
          <input type="checkbox" checked={clear} onChange={(e) => setClear(e.target.checked)} />{" "}
          {t("accounts.clearExternalId")}
        </label>
      )}
      {field("regions", t("accounts.regions"), regions, setRegions)}
      <label htmlFor="account-tags">{t("accounts.tags")}</label>
      <textarea id="account-tags" rows={3} value={tags} onChange={(e) => setTags(e.target.value)} />
      <div className="buttons">
        <button type="submit" className="primary">
          {t("accounts.save")}
        </button>
      </div>
      <Problem error={failure} />
    </form>
  );
}
