import { useTranslation } from "react-i18next";

import type { Scan } from "../api/types";

/** How far a scan is: a bar with its numbers in words beside it. */
export function ScanProgress({ scan }: { scan: Scan }) {
  const { t } = useTranslation();
  const words = t("scans.done", {
    done: scan.done,
    total: scan.total,
    succeeded: scan.succeeded,
    failed: scan.failed,
    running: scan.running,
  });
  return (
    <span className="scan-progress">
      <progress max={scan.total} value={scan.done} aria-label={words} /> <span data-testid="scan-done">{words}</span>
    </span>
  );
}
