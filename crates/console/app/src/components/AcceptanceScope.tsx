import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { Acceptance } from "../api/types";
import { formatTime } from "../i18n";

/** What an acceptance covers: its one finding, or its check narrowed by accounts,
 * regions and a resource pattern. */
export function AcceptanceScope({ acceptance: a }: { acceptance: Acceptance }) {
  const { t } = useTranslation();
  if (a.fingerprint) {
    return (
      <Link to={`/findings/${a.fingerprint}`}>
        {t("acceptances.oneFinding", { tool: t(`tools.${a.tool}`), id: a.fingerprint.slice(0, 12) })}
      </Link>
    );
  }
  const any = t("acceptances.any");
  return (
    <span>
      {t("acceptances.pattern", {
        tool: t(`tools.${a.tool}`),
        check: a.check,
        accounts: a.accounts.length ? a.accounts.join(", ") : any,
        regions: a.regions.length ? a.regions.join(", ") : any,
        resource: a.resource ?? any,
      })}
    </span>
  );
}

/** How long until `at`, in whole days or hours, in words ("in 29 days"); past, "expired". */
export function Countdown({ at }: { at: string }) {
  const { t, i18n } = useTranslation();
  const left = new Date(at).getTime() - Date.now();
  const hours = Math.floor(left / 3_600_000);
  const text =
    left <= 0
      ? t("acceptances.expired")
      : hours >= 48
        ? t("acceptances.inDays", { count: Math.floor(hours / 24) })
        : t("acceptances.inHours", { count: Math.max(hours, 1) });
  return (
    <time dateTime={at} title={formatTime(at, i18n.language)} data-testid="countdown">
      {text}
    </time>
  );
}
