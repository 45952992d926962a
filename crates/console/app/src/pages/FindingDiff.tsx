import { useTranslation } from "react-i18next";

import { CHANGES, type Change, type FindingDiff } from "../api/types";
import { useSession } from "../auth/context";
import { FindingTable } from "../components/FindingTable";
import { FindingsView, toolNamed } from "../components/FindingsView";
import { Problem } from "../components/Problem";
import { useLoad } from "../components/useLoad";
import { useUrlFilter } from "../components/useUrlFilter";
import { formatTime } from "../i18n";

// A symbol beside each change's name, as the finding states have.
const CHANGE_SYMBOL: Record<Change, string> = {
  new: "★",
  reopened: "↻",
  still_open: "●",
  fixed: "✔",
  not_covered: "∅",
};

/** What changed between two runs of one tool: by default its last two finished runs. */
export function FindingDiffPage() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const { get, set } = useUrlFilter();
  const tool = toolNamed(get("tool"));
  const runs = useLoad(async () => {
    const module = (await api.tools()).items.find((item) => item.name === tool)?.module_id;
    if (!module) return [];
    const page = await api.executions({ module_id: module, limit: 50 });
    return page.items.filter((run) => run.finished_at);
  }, [api, tool]);
  const finished = runs.data ?? [];
  const to = get("to") || finished[0]?.id || "";
  const later = finished.find((run) => run.id === to);
  const from = get("from") || (later && finished.find((run) => run.created_at < later.created_at)?.id) || "";
  const diff = useLoad(() => (from && to ? api.findingDiff(from, to) : Promise.resolve(undefined)), [api, from, to]);
  const runChoice = (name: "from" | "to", value: string) => (
    <select value={value} onChange={(e) => set(name, e.target.value)}>
      <option value="">—</option>
      {finished.map((run) => (
        <option key={run.id} value={run.id}>
          {formatTime(run.created_at, i18n.language)} · {t(`status.${run.status}`)} · {run.id.slice(0, 8)}
        </option>
      ))}
    </select>
  );
  return (
    <FindingsView
      title={t("diff.title")}
      choose={t("diff.choose")}
      tool={tool}
      onTool={(name) => set("tool", name)}
      choices={
        <>
          <label>
            {t("diff.from")}
            {runChoice("from", from)}
          </label>
          <label>
            {t("diff.to")}
            {runChoice("to", to)}
          </label>
        </>
      }
    >
      <Problem error={runs.error ?? diff.error} />
      {runs.data && finished.length < 2 && <p className="muted">{t("diff.fewRuns")}</p>}
      {diff.data && <Changes diff={diff.data} />}
    </FindingsView>
  );
}

function Changes({ diff }: { diff: FindingDiff }) {
  const { t } = useTranslation();
  return (
    <>
      {CHANGES.map((change) => (
        <section key={change} className="diff-change" data-change={change} aria-labelledby={`change-${change}`}>
          <h2 id={`change-${change}`}>
            <span aria-hidden="true">{CHANGE_SYMBOL[change]}</span> {t(`diff.change.${change}`)}{" "}
            <span className="count" data-total={diff[change].total}>
              ({diff[change].total})
            </span>
          </h2>
          <p className="muted">{t(`diff.explain.${change}`)}</p>
          {diff[change].total > 0 && <FindingTable findings={diff[change].findings} />}
          {diff[change].total > diff[change].findings.length && (
            <p className="muted">
              {t("diff.gravest", { shown: diff[change].findings.length, total: diff[change].total })}
            </p>
          )}
        </section>
      ))}
    </>
  );
}
