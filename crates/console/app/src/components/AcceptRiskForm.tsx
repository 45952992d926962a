import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Acceptance } from "../api/types";
import { useSession } from "../auth/context";
import { Problem } from "./Problem";

/** Days a request may ask for, the api's longest (ACCEPTANCE_MAX_DAYS) aside. */
const TERMS = [30, 90, 180, 365];

/** Asks that failing findings be accepted (one request each, so each is decided on its
 * own): a reason and a term. Nothing changes until a second person approves. */
export function AcceptRiskForm({ fingerprints }: { fingerprints: string[] }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [reason, setReason] = useState("");
  const [days, setDays] = useState(90);
  const [failure, setFailure] = useState<unknown>();
  const [asked, setAsked] = useState<Acceptance[]>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setFailure(undefined);
    try {
      const expires = new Date(Date.now() + days * 86_400_000).toISOString();
      const requests = [];
      for (const fingerprint of fingerprints) {
        requests.push(await api.requestAcceptance({ fingerprint, reason, expires_at: expires }));
      }
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
