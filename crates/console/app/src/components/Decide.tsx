import { useState } from "react";
import { useTranslation } from "react-i18next";

import { useSession } from "../auth/context";
import { Problem } from "./Problem";

/** Approve or reject a waiting run, with a comment. */
export function Decide({ executionId, onDone }: { executionId: string; onDone: () => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [comment, setComment] = useState("");
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const field = `comment-${executionId}`;

  async function decide(approve: boolean) {
    setBusy(true);
    setFailure(undefined);
    try {
      await (approve ? api.approve(executionId, comment) : api.reject(executionId, comment));
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
