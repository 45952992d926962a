import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import type { Channel, ModuleSummary, Rule } from "../../api/types";
import { hasRole, useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";
import { eventKey, toggled } from "./bodies";
import { ChannelForm } from "./ChannelForm";
import { ChannelWhere } from "./ChannelWhere";
import { RuleForm } from "./RuleForm";

/** Where notifications go and what is told there: channels with how their messages
 * went, and rules; admins add, turn on and off, and remove them, the others read. */
export function Notifications() {
  const { t } = useTranslation();
  const session = useSession();
  const { api } = session;
  const channels = useLoad(() => api.channels(), [api]);
  const rules = useLoad(() => api.rules(), [api]);
  const modules = useLoad(() => api.modules(), [api]);
  const admin = hasRole(session, "admin");
  return (
    <section>
      <h1>{t("notifications.title")}</h1>
      <p className="muted">{t("notifications.explain")}</p>
      <h2>{t("notifications.channels")}</h2>
      <Problem error={channels.error} />
      {channels.data && <ChannelTable channels={channels.data.items} />}
      {admin && <ChannelForm onSaved={channels.reload} />}
      <h2>{t("notifications.rules")}</h2>
      <Problem error={rules.error ?? modules.error} />
      {rules.data && (
        <RuleTable
          rules={rules.data.items}
          channels={channels.data?.items ?? []}
          modules={modules.data?.items ?? []}
          onChanged={rules.reload}
        />
      )}
      {admin && (
        <RuleForm channels={channels.data?.items ?? []} modules={modules.data?.items ?? []} onSaved={rules.reload} />
      )}
    </section>
  );
}

function ChannelTable({ channels }: { channels: Channel[] }) {
  const { t, i18n } = useTranslation();
  if (channels.length === 0) return <p className="muted">{t("notifications.noChannels")}</p>;
  return (
    <Table
      headers={[
        t("notifications.name"),
        t("notifications.kind"),
        t("notifications.where"),
        t("notifications.pending"),
        t("notifications.failed"),
        t("notifications.lastDelivered"),
        t("notifications.lastError"),
      ]}
    >
      {channels.map((c) => (
        <tr key={c.id} data-channel={c.id}>
          <td>
            <Link to={`/admin/notifications/channels/${c.id}`}>{c.name}</Link>
          </td>
          <td>{t(`notifications.kinds.${c.kind}`, { defaultValue: c.kind })}</td>
          <td className="wrap">
            <ChannelWhere channel={c} />
          </td>
          <td>{c.pending}</td>
          <td>{c.failed}</td>
          <td>{formatTime(c.last_delivered_at, i18n.language)}</td>
          <td className="wrap">{c.last_error ?? ""}</td>
        </tr>
      ))}
    </Table>
  );
}

/** Rules by name with what they listen for; admins turn each on or off (at the version
 * read) and delete it. */
function RuleTable(props: { rules: Rule[]; channels: Channel[]; modules: ModuleSummary[]; onChanged: () => void }) {
  const { t } = useTranslation();
  const session = useSession();
  const admin = hasRole(session, "admin");
  const [failure, setFailure] = useState<unknown>();

  async function act(action: () => Promise<unknown>) {
    setFailure(undefined);
    try {
      await action();
    } catch (error) {
      setFailure(error);
    }
    // A stale version is refused: what is read again is what stands.
    props.onChanged();
  }

  if (props.rules.length === 0) return <p className="muted">{t("notifications.noRules")}</p>;
  return (
    <>
      <Problem error={failure} />
      <Table
        headers={[
          t("notifications.name"),
          t("notifications.event"),
          t("notifications.channel"),
          t("notifications.filters"),
          t("notifications.enabled"),
          ...(admin ? [t("notifications.actions")] : []),
        ]}
      >
        {props.rules.map((rule) => (
          <tr key={rule.id} data-rule={rule.id}>
            <td>{rule.name}</td>
            <td>{t(eventKey(rule.event), { defaultValue: rule.event })}</td>
            <td>
              <Link to={`/admin/notifications/channels/${rule.channel_id}`}>
                {props.channels.find((c) => c.id === rule.channel_id)?.name ?? rule.channel_id}
              </Link>
            </td>
            <td className="wrap">
              <Filters rule={rule} modules={props.modules} />
            </td>
            <td>
              <input
                type="checkbox"
                checked={rule.enabled}
                disabled={!admin}
                aria-label={t("notifications.enabledRule", { name: rule.name })}
                onChange={() => void act(() => session.api.updateRule(rule.id, toggled(rule)))}
              />
            </td>
            {admin && (
              <td>
                <button
                  type="button"
                  aria-label={t("notifications.deleteRule", { name: rule.name })}
                  onClick={() => void act(() => session.api.deleteRule(rule.id))}
                >
                  {t("notifications.delete")}
                </button>
              </td>
            )}
          </tr>
        ))}
      </Table>
    </>
  );
}

/** A rule's filters in words; every event of its kind when it has none. */
function Filters({ rule, modules }: { rule: Rule; modules: ModuleSummary[] }) {
  const { t } = useTranslation();
  const parts: string[] = [];
  if (rule.module_id) {
    const name = modules.find((m) => m.id === rule.module_id)?.name ?? rule.module_id;
    parts.push(`${t("notifications.module")}: ${name}`);
  }
  if (rule.tool) parts.push(`${t("notifications.tool")}: ${t(`tools.${rule.tool}`, { defaultValue: rule.tool })}`);
  if (rule.statuses.length > 0) {
    parts.push(`${t("notifications.statuses")}: ${rule.statuses.map((s) => t(`status.${s}`)).join(", ")}`);
  }
  if (rule.min_severity) {
    parts.push(`${t("notifications.minSeverity")}: ${t(`severity.${rule.min_severity}`)}`);
  }
  if (rule.days_before != null) parts.push(t("notifications.daysBeforeN", { count: rule.days_before }));
  return <>{parts.length > 0 ? parts.join("; ") : t("notifications.noFilter")}</>;
}
