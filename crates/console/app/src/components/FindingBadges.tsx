import { useTranslation } from "react-i18next";

import type { FindingState, Severity } from "../api/types";

// A symbol beside the word: colour is never the only sign of a state or a severity.
const STATE_SYMBOL: Record<FindingState, string> = {
  new: "★",
  open: "●",
  reopened: "↻",
  accepted: "⚑",
  fixed: "✔",
};

const SEVERITY_SYMBOL: Record<Severity, string> = {
  critical: "‼",
  high: "▲",
  medium: "◆",
  low: "▽",
  informational: "ℹ",
  unknown: "?",
};

export function FindingStateBadge({ state }: { state: FindingState }) {
  const { t } = useTranslation();
  return (
    <span className={`finding-state finding-state-${state}`} data-state={state}>
      <span aria-hidden="true">{STATE_SYMBOL[state]}</span> {t(`findingState.${state}`)}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: Severity }) {
  const { t } = useTranslation();
  return (
    <span className={`severity severity-${severity}`} data-severity={severity}>
      <span aria-hidden="true">{SEVERITY_SYMBOL[severity]}</span> {t(`severity.${severity}`)}
    </span>
  );
}
