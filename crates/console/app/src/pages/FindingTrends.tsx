import { useTranslation } from "react-i18next";

import { useSession } from "../auth/context";
import { FindingsView, toolNamed } from "../components/FindingsView";
import { Problem } from "../components/Problem";
import { TrendChart } from "../components/TrendChart";
import { useLoad } from "../components/useLoad";
import { useUrlFilter } from "../components/useUrlFilter";

const SPANS = [30, 90] as const;

/** One tool's failing findings day by day over 30 or 90 days, chosen in the URL. */
export function FindingTrends() {
  const { t } = useTranslation();
  const { api } = useSession();
  const { get, set } = useUrlFilter();
  const tool = toolNamed(get("tool"));
  const days = get("days") === "30" ? 30 : 90;
  const account = get("account");
  const trend = useLoad(() => api.findingTrend(tool, days, account || undefined), [api, tool, days, account]);
  const choices = (
    <>
      <label>
        {t("findings.account")}
        <input value={account} onChange={(e) => set("account", e.target.value)} />
      </label>
      <fieldset className="segmented">
        <legend>{t("trends.span")}</legend>
        {SPANS.map((span) => (
          <button key={span} type="button" aria-pressed={days === span} onClick={() => set("days", String(span))}>
            {t("trends.days", { count: span })}
          </button>
        ))}
      </fieldset>
    </>
  );
  return (
    <FindingsView
      title={t("trends.title")}
      choose={t("trends.choose")}
      tool={tool}
      onTool={(name) => set("tool", name)}
      choices={choices}
    >
      <Problem error={trend.error} />
      {trend.data && <TrendChart trend={trend.data} />}
    </FindingsView>
  );
}
