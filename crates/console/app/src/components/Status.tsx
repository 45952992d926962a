import { useTranslation } from "react-i18next";

import type { Status } from "../api/types";

// A symbol beside the word: colour is never the only sign of a status.
const SYMBOL: Record<Status, string> = {
  awaiting_approval: "⏸",
  queued: "…",
  running: "▶",
  succeeded: "✔",
  failed: "✖",
  timed_out: "⏱",
  cancelled: "■",
  rejected: "⊘",
  lost: "?",
};

export function StatusBadge({ status }: { status: Status }) {
  const { t } = useTranslation();
  return (
    <span className={`status status-${status}`} data-status={status}>
      <span aria-hidden="true">{SYMBOL[status]}</span> {t(`status.${status}`)}
    </span>
  );
}
