import { useId } from "react";
import { useTranslation } from "react-i18next";

import { type FindingState, type FindingTrend, SEVERITIES, type Severity, type TrendDay } from "../api/types";
import { SeverityBadge } from "./FindingBadges";
import { Table } from "./Table";

/** The states a finding still fails in: what the chart stacks. */
const FAILING: readonly FindingState[] = ["new", "open", "reopened"];

const HEIGHT = 160;
const BAR = 8;
const GAP = 2;
const AXIS = 36;

/** Failing findings per day, stacked by severity (gravest at the bottom). The SVG reads
 * as one image with a summary; each bar names its day and counts on hover; the same
 * figures stand in a table below, so neither colour nor sight is needed to read it. */
export function TrendChart({ trend }: { trend: FindingTrend }) {
  const { t } = useTranslation();
  const id = useId();
  const days = trend.days.map((day) => ({ day, failing: failingBySeverity(day) }));
  const totals = days.map((d) => total(d.failing));
  const top = Math.max(1, ...totals);
  const width = AXIS + days.length * (BAR + GAP);
  const first = days[0];
  const last = days[days.length - 1];
  const summary =
    first && last
      ? t("trends.summary", {
          from: first.day.day,
          to: last.day.day,
          start: total(first.failing),
          end: total(last.failing),
          today: SEVERITIES.filter((s) => last.failing[s] > 0)
            .map((s) => `${last.failing[s]} ${t(`severity.${s}`)}`)
            .join(", "),
        })
      : t("trends.empty");
  return (
    <figure className="trend">
      <svg
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        viewBox={`0 0 ${width} ${HEIGHT + 20}`}
        preserveAspectRatio="none"
        className="trend-chart"
      >
        <title id={`${id}-title`}>{t("trends.chartTitle", { tool: t(`tools.${trend.tool}`) })}</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        <text x={AXIS - 4} y={10} textAnchor="end" className="trend-axis">
          {top}
        </text>
        <text x={AXIS - 4} y={HEIGHT} textAnchor="end" className="trend-axis">
          0
        </text>
        <line x1={AXIS} x2={width} y1={HEIGHT} y2={HEIGHT} className="trend-baseline" />
        {days.map(({ day, failing }, i) => (
          <Bar key={day.day} x={AXIS + i * (BAR + GAP)} day={day} failing={failing} top={top} />
        ))}
        {first && last && (
          <>
            <text x={AXIS} y={HEIGHT + 16} className="trend-axis">
              {first.day.day}
            </text>
            <text x={width} y={HEIGHT + 16} textAnchor="end" className="trend-axis">
              {last.day.day}
            </text>
          </>
        )}
      </svg>
      <figcaption>
        <ul className="trend-legend">
          {SEVERITIES.map((s) => (
            <li key={s}>
              <span className={`trend-swatch trend-${s}`} aria-hidden="true" /> <SeverityBadge severity={s} />
            </li>
          ))}
        </ul>
        <p className="muted">{t("trends.carried")}</p>
      </figcaption>
      <details>
        <summary>{t("trends.asTable")}</summary>
        <TrendTable days={days} />
      </details>
    </figure>
  );
}

function Bar({ x, day, failing, top }: { x: number; day: TrendDay; failing: Record<Severity, number>; top: number }) {
  const { t } = useTranslation();
  let y = HEIGHT;
  const counts = SEVERITIES.filter((s) => failing[s] > 0);
  const label = [
    `${day.day}: ${t("trends.failing", { count: total(failing) })}`,
    counts.map((s) => `${failing[s]} ${t(`severity.${s}`)}`).join(", "),
    day.scanned ? "" : t("trends.notScanned"),
  ]
    .filter(Boolean)
    .join(" · ");
  return (
    <g data-day={day.day} data-scanned={day.scanned} data-failing={total(failing)} opacity={day.scanned ? 1 : 0.45}>
      <title>{label}</title>
      {counts.map((s) => {
        const height = (failing[s] / top) * (HEIGHT - 12);
        y -= height;
        return <rect key={s} x={x} y={y} width={BAR} height={height} className={`trend-${s}`} />;
      })}
    </g>
  );
}

function TrendTable({ days }: { days: { day: TrendDay; failing: Record<Severity, number> }[] }) {
  const { t } = useTranslation();
  const count = (day: TrendDay, state: FindingState) =>
    Object.values(day.counts[state] ?? {}).reduce((sum, n) => sum + (n ?? 0), 0);
  return (
    <Table
      className="trend-table"
      headers={[
        t("trends.day"),
        ...SEVERITIES.map((s) => t(`severity.${s}`)),
        t("findingState.accepted"),
        t("findingState.fixed"),
        t("trends.scanned"),
      ]}
    >
      {days.map(({ day, failing }) => (
        <tr key={day.day}>
          <td>{day.day}</td>
          {SEVERITIES.map((s) => (
            <td key={s}>{failing[s]}</td>
          ))}
          <td>{count(day, "accepted")}</td>
          <td>{count(day, "fixed")}</td>
          <td>{day.scanned ? t("trends.yes") : t("trends.carriedShort")}</td>
        </tr>
      ))}
    </Table>
  );
}

function failingBySeverity(day: TrendDay): Record<Severity, number> {
  const out = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const state of FAILING) {
    for (const s of SEVERITIES) out[s] += day.counts[state]?.[s] ?? 0;
  }
  return out;
}

function total(counts: Record<Severity, number>): number {
  return SEVERITIES.reduce((sum, s) => sum + counts[s], 0);
}
