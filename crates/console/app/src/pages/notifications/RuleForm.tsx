import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Channel, EVENTS, type ModuleSummary, type NotifyEvent, SEVERITIES, TOOLS } from "../../api/types";
import { useSession } from "../../auth/context";
import { Field, FormProblem, fieldMessage } from "../../components/Field";
import { FILTERS, RULE_FIELDS, eventKey, ruleBody } from "./bodies";

/** Adds a rule (admins): the event chosen says which filters show. */
export function RuleForm(props: { channels: Channel[]; modules: ModuleSummary[]; onSaved: () => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [name, setName] = useState("");
  const [event, setEvent] = useState<NotifyEvent>("run.finished");
  const [channelId, setChannelId] = useState("");
  const [moduleId, setModuleId] = useState("");
  const [tool, setTool] = useState("");
  const [statuses, setStatuses] = useState<string[]>([]);
  const [minSeverity, setMinSeverity] = useState("high");
  const [daysBefore, setDaysBefore] = useState(7);
  const [enabled, setEnabled] = useState(true);
  const [failure, setFailure] = useState<unknown>();
  const takes = FILTERS[event];

  async function submit(e: FormEvent) {
    e.preventDefault();
    setFailure(undefined);
    try {
      await api.createRule(
        ruleBody({ name, event, channelId, moduleId, tool, statuses, minSeverity, daysBefore, enabled }),
      );
      setName("");
      props.onSaved();
    } catch (error) {
      setFailure(error);
    }
  }

  function choose(next: NotifyEvent) {
    setEvent(next);
    // A run's ends and a scan's differ: none carried from one to the other.
    setStatuses([]);
  }

  const ends = takes.statuses ?? [];
  const statusesError = fieldMessage(failure, "statuses");
  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="rule-form">
      <h3 id="rule-form">{t("notifications.newRule")}</h3>
      <Field id="rule-name" label={t("notifications.name")} error={fieldMessage(failure, "name")}>
        <input id="rule-name" value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id="rule-event" label={t("notifications.event")} error={fieldMessage(failure, "event")}>
        <select id="rule-event" value={event} onChange={(e) => choose(e.target.value as NotifyEvent)}>
          {EVENTS.map((e) => (
            <option key={e} value={e}>
              {t(eventKey(e))}
            </option>
          ))}
        </select>
      </Field>
      <Field id="rule-channel" label={t("notifications.channel")} error={fieldMessage(failure, "channel_id")}>
        <select id="rule-channel" value={channelId} onChange={(e) => setChannelId(e.target.value)}>
          <option value="">—</option>
          {props.channels.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </Field>
      {takes.module && (
        <Field id="rule-module" label={t("notifications.module")} error={fieldMessage(failure, "module_id")}>
          <select id="rule-module" value={moduleId} onChange={(e) => setModuleId(e.target.value)}>
            <option value="">{t("notifications.anyModule")}</option>
            {props.modules.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </Field>
      )}
      {takes.tool && (
        <Field id="rule-tool" label={t("notifications.tool")} error={fieldMessage(failure, "tool")}>
          <select id="rule-tool" value={tool} onChange={(e) => setTool(e.target.value)}>
            <option value="">{t("notifications.anyTool")}</option>
            {TOOLS.map((name) => (
              <option key={name} value={name}>
                {t(`tools.${name}`)}
              </option>
            ))}
          </select>
        </Field>
      )}
      {ends.length > 0 && (
        <fieldset aria-describedby={statusesError ? "rule-statuses-error" : undefined}>
          <legend>{t("notifications.statuses")}</legend>
          {ends.map((end) => (
            <label key={end} className="inline">
              <input
                type="checkbox"
                checked={statuses.includes(end)}
                onChange={(e) => setStatuses(ends.filter((s) => (s === end ? e.target.checked : statuses.includes(s))))}
              />{" "}
              {t(`status.${end}`)}
            </label>
          ))}
          {statusesError && (
            <small className="field-error" id="rule-statuses-error" role="alert">
              {statusesError}
            </small>
          )}
        </fieldset>
      )}
      {takes.severity && (
        <Field id="rule-severity" label={t("notifications.minSeverity")} error={fieldMessage(failure, "min_severity")}>
          <select id="rule-severity" value={minSeverity} onChange={(e) => setMinSeverity(e.target.value)}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {t(`severity.${s}`)}
              </option>
            ))}
          </select>
        </Field>
      )}
      {takes.days && (
        <Field id="rule-days" label={t("notifications.daysBefore")} error={fieldMessage(failure, "days_before")}>
          <input
            id="rule-days"
            type="number"
            min={1}
            max={90}
            value={daysBefore}
            onChange={(e) => setDaysBefore(Number(e.target.value))}
          />
        </Field>
      )}
      <label className="inline">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />{" "}
        {t("notifications.enabled")}
      </label>
      <div className="buttons">
        <button type="submit" className="primary">
          {t("notifications.addRule")}
        </button>
      </div>
      <FormProblem error={failure} shown={RULE_FIELDS} />
    </form>
  );
}
