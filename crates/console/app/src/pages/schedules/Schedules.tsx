import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";

import { useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { NEW_SCAN, ScanInputs } from "../../components/ScanFields";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";
import { KINDS, type ScheduleKind, scheduleBody } from "./bodies";

/** Schedules by name (one's own, or all for admins) and a new one. */
export function Schedules() {
  const { t, i18n } = useTranslation();
  const { api } = useSession();
  const schedules = useLoad(() => api.schedules(), [api]);
  return (
    <section>
      <h1>{t("schedules.title")}</h1>
      <Problem error={schedules.error} />
      {schedules.data &&
        (schedules.data.items.length === 0 ? (
          <p className="muted">{t("schedules.none")}</p>
        ) : (
          <Table
            headers={[
              t("schedules.name"),
              t("schedules.starts"),
              t("schedules.when"),
              t("schedules.next"),
              t("schedules.owner"),
            ]}
          >
            {schedules.data.items.map((s) => (
              <tr key={s.id} data-schedule={s.id} data-kind={s.kind}>
                <td>
                  <Link to={`/schedules/${s.id}`}>{s.name}</Link>
                </td>
                <td>{t(`schedules.kinds.${s.kind}`, { defaultValue: s.kind })}</td>
                <td>
                  <code>{s.cron}</code> ({s.timezone})
                </td>
                <td>{s.enabled ? formatTime(s.next_fire_at, i18n.language) : t("schedules.paused")}</td>
                <td>{s.owner}</td>
              </tr>
            ))}
          </Table>
        ))}
      <ScheduleForm />
    </section>
  );
}

/** A module's run (the module, its parameters as JSON) or a scan (as the Scans page
 * starts one) on a cron expression. */
function ScheduleForm() {
  const { t } = useTranslation();
  const { api } = useSession();
  const navigate = useNavigate();
  const modules = useLoad(() => api.modules(), [api]);
  const [name, setName] = useState("");
  const [cron, setCron] = useState("0 9 * * 1-5");
  const [timezone, setTimezone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [kind, setKind] = useState<ScheduleKind>("run");
  const [moduleId, setModuleId] = useState("");
  const [params, setParams] = useState("{}");
  const [scan, setScan] = useState(NEW_SCAN);
  const [missed, setMissed] = useState("skip");
  const [failure, setFailure] = useState<unknown>();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    try {
      const created = await api.createSchedule(
        scheduleBody({ name, cron, timezone, missed, kind, moduleId, params, scan }),
      );
      navigate(`/schedules/${created.id}`);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="schedule-form">
      <h2 id="schedule-form">{t("schedules.new")}</h2>
      <label htmlFor="schedule-name">{t("schedules.name")}</label>
      <input id="schedule-name" value={name} onChange={(e) => setName(e.target.value)} />
      <fieldset className="segmented">
        <legend>{t("schedules.starts")}</legend>
        {KINDS.map((k) => (
          <label key={k} className="inline">
            <input type="radio" name="schedule-kind" checked={kind === k} onChange={() => setKind(k)} />{" "}
            {t(`schedules.kinds.${k}`)}
          </label>
        ))}
      </fieldset>
      {kind === "run" ? (
        <>
          <label htmlFor="schedule-module">{t("schedules.module")}</label>
          <select id="schedule-module" value={moduleId} onChange={(e) => setModuleId(e.target.value)}>
            <option value="">—</option>
            {modules.data?.items.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
          <label htmlFor="schedule-params">{t("schedules.params")}</label>
          <textarea
            id="schedule-params"
            rows={4}
            className="code"
            value={params}
            onChange={(e) => setParams(e.target.value)}
          />
        </>
      ) : (
        <ScanInputs id="schedule-scan" value={scan} onChange={setScan} />
      )}
      <label htmlFor="schedule-cron">{t("schedules.cron")}</label>
      <input id="schedule-cron" value={cron} onChange={(e) => setCron(e.target.value)} />
      <label htmlFor="schedule-zone">{t("schedules.timezone")}</label>
      <input id="schedule-zone" value={timezone} onChange={(e) => setTimezone(e.target.value)} />
      <label htmlFor="schedule-missed">{t("schedules.missed")}</label>
      <select id="schedule-missed" value={missed} onChange={(e) => setMissed(e.target.value)}>
        <option value="skip">{t("schedules.missedSkip")}</option>
        <option value="run_once">{t("schedules.missedRunOnce")}</option>
      </select>
      <div className="buttons">
        <button type="submit" className="primary">
          {t("schedules.create")}
        </button>
      </div>
      <Problem error={failure} />
    </form>
  );
}
