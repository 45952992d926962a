import { useState } from "react";
import { useTranslation } from "react-i18next";

import { Problem } from "./Problem";

/** Approve or reject something waiting for a second person (a run, a risk
 * acceptance), with a comment; `decide` sends the decision. */
export function Decide({
  id,
  decide: send,
  onDone,
}: {
  id: string;
  decide: (approve: boolean, comment: string) => Promise<unknown>;
  onDone: () => void;
}) {
  const { t } = useTranslation();
  const [comment, setComment] = useState("");
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const field = `comment-${id}`;

  async function decide(approve: boolean) {
    setBusy(true);
    setFailure(undefined);
    try {
      await send(approve, comment);
      onDone();
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="decide">
      <label htmlFor={field}>{t("approvals.comment")}</label>
      <textarea id={field} value={comment} onChange={(e) => setComment(e.target.value)} rows={2} />
      <div className="buttons">
        <button type="button" className="primary" disabled={busy} onClick={() => void decide(true)}>
          {t("approvals.approve")}
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => void decide(false)}>
          {t("approvals.reject")}
        </button>
      </div>
      <Problem error={failure} />
    </div>
  );
}
