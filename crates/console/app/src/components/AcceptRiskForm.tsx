import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Acceptance, AcceptanceRequest } from "../api/types";
import { useSession } from "../auth/context";
import { Problem } from "./Problem";

/** Days a request may ask for, the api's longest (ACCEPTANCE_MAX_DAYS) aside. */
const TERMS = [30, 90, 180, 365];

/** The check a finding failed, where it failed: what a pattern request starts from. */
export interface CheckOf {
  tool: string;
  check: string;
  account: string;
  region: string;
}

/** A pattern's narrowing, as typed: lists are separated by commas or spaces. */
interface Pattern {
  accounts: string;
  regions: string;
  resource: string;
}

/** Asks that failing findings be accepted (one request each, so each is decided on its
 * own), or, given `check`, that its check be accepted wherever it fails within the
 * accounts, regions and resources named, now and as new findings appear: a reason and
 * a term. Nothing changes until a second person approves. */
export function AcceptRiskForm({ fingerprints, check }: { fingerprints: string[]; check?: CheckOf }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [reason, setReason] = useState("");
  const [days, setDays] = useState(90);
  const [pattern, setPattern] = useState<Pattern>();
  const [failure, setFailure] = useState<unknown>();
  const [asked, setAsked] = useState<Acceptance[]>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setFailure(undefined);
    try {
      const term = { reason, expires_at: new Date(Date.now() + days * 86_400_000).toISOString() };
      const bodies: AcceptanceRequest[] =
        check && pattern
          ? [{ ...term, tool: check.tool, check: check.check, ...narrowing(pattern) }]
          : fingerprints.map((fingerprint) => ({ ...term, fingerprint }));
      const requests = [];
      for (const body of bodies) requests.push(await api.requestAcceptance(body));
      setAsked(requests);
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  }

  if (asked) {
    return (
      <p role="status" className="notice">
        {t("acceptances.requested", { count: asked.length })}
      </p>
    );
  }
  return (
    <form onSubmit={(e) => void submit(e)} className="accept-risk" aria-labelledby="accept-risk">
      <h2 id="accept-risk">{t("acceptances.ask", { count: fingerprints.length })}</h2>
      {check && <ScopeChoice check={check} pattern={pattern} onChange={setPattern} />}
      <label htmlFor="accept-reason">{t("acceptances.reason")}</label>
      <textarea id="accept-reason" value={reason} onChange={(e) => setReason(e.target.value)} rows={2} />
      <label htmlFor="accept-days">{t("acceptances.term")}</label>
      <select id="accept-days" value={days} onChange={(e) => setDays(Number(e.target.value))}>
        {TERMS.map((d) => (
          <option key={d} value={d}>
            {t("acceptances.days", { count: d })}
          </option>
        ))}
      </select>
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>
          {t("acceptances.submit")}
        </button>
      </div>
      <Problem error={failure} />
    </form>
  );
}

/** This finding alone, or its check across the accounts, regions and resources named
 * (starting from where this one failed; empty means any). */
function ScopeChoice({
  check,
  pattern,
  onChange,
}: {
  check: CheckOf;
  pattern?: Pattern;
  onChange: (pattern?: Pattern) => void;
}) {
  const { t } = useTranslation();
  const set = (field: keyof Pattern) => (value: string) => pattern && onChange({ ...pattern, [field]: value });
  return (
    <fieldset className="stack">
      <legend>{t("acceptances.what")}</legend>
      <label className="inline">
        <input type="radio" name="accept-scope" checked={!pattern} onChange={() => onChange(undefined)} />{" "}
        {t("acceptances.thisFinding")}
      </label>
      <label className="inline">
        <input
          type="radio"
          name="accept-scope"
          checked={!!pattern}
          onChange={() => onChange({ accounts: check.account, regions: check.region, resource: "" })}
        />{" "}
        {t("acceptances.thisCheck", { check: check.check })}
      </label>
      {pattern && (
        <>
          <Field
            id="accept-accounts"
            label={t("acceptances.accounts")}
            value={pattern.accounts}
            set={set("accounts")}
          />
          <Field id="accept-regions" label={t("acceptances.regions")} value={pattern.regions} set={set("regions")} />
          <Field
            id="accept-resource"
            label={t("acceptances.resource")}
            value={pattern.resource}
            set={set("resource")}
          />
          <p className="muted">{t("acceptances.patternHint")}</p>
        </>
      )}
    </fieldset>
  );
}

function Field({ id, label, value, set }: { id: string; label: string; value: string; set: (v: string) => void }) {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => set(e.target.value)} />
    </>
  );
}

/** The request's accounts, regions and resource pattern; an empty one leaves it open. */
function narrowing(pattern: Pattern): Pick<AcceptanceRequest, "accounts" | "regions" | "resource"> {
  const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
  return {
    accounts: list(pattern.accounts),
    regions: list(pattern.regions),
    resource: pattern.resource.trim() || null,
  };
}
