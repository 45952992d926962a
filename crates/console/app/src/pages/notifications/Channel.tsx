import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate, useParams } from "react-router-dom";

import { hasRole, useSession } from "../../auth/context";
import { Problem } from "../../components/Problem";
import { Table } from "../../components/Table";
import { useLoad } from "../../components/useLoad";
import { formatTime } from "../../i18n";
import { eventKey } from "./bodies";
import { ChannelWhere, DeliveryStatus } from "./ChannelWhere";

/** How often a channel with messages waiting is read again. */
const REFRESH_MS = 1000;

/** One channel: where it sends, its latest messages and how each went; admins send a
 * test message (followed until it went) and delete it. */
export function ChannelPage() {
  const { t, i18n } = useTranslation();
  const { id = "" } = useParams();
  const session = useSession();
  const navigate = useNavigate();
  const channel = useLoad(() => session.api.channel(id), [session.api, id]);
  const [failure, setFailure] = useState<unknown>();
  const [queued, setQueued] = useState(false);
  const c = channel.data;
  const waiting = !!c && (c.pending > 0 || c.deliveries.some((d) => d.status === "pending"));
  const { reload } = channel;
  useEffect(() => {
    if (!waiting) return;
    const timer = setTimeout(reload, REFRESH_MS);
    return () => clearTimeout(timer);
  }, [waiting, reload, c]);

  async function act(action: () => Promise<unknown>, then: () => void) {
    setFailure(undefined);
    try {
      await action();
      then();
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section>
      <h1>{c?.name ?? t("notifications.title")}</h1>
      <Problem error={channel.error ?? failure} />
      {c && (
        <>
          <dl className="facts">
            <dt>{t("notifications.kind")}</dt>
            <dd>{t(`notifications.kinds.${c.kind}`, { defaultValue: c.kind })}</dd>
            <dt>{t("notifications.where")}</dt>
            <dd className="wrap">
              <ChannelWhere channel={c} />
            </dd>
            {c.kind === "email" && (
              <>
                <dt>{t("notifications.from")}</dt>
                <dd>{c.config.from}</dd>
                <dt>{t("notifications.smtpTls")}</dt>
                <dd>{t(`notifications.tls.${c.config.tls}`, { defaultValue: c.config.tls })}</dd>
              </>
            )}
            <dt>{t("common.created")}</dt>
            <dd>{formatTime(c.created_at, i18n.language)}</dd>
            <dt>{t("notifications.pending")}</dt>
            <dd>{c.pending}</dd>
            <dt>{t("notifications.failed")}</dt>
            <dd>{c.failed}</dd>
          </dl>
          {hasRole(session, "admin") && (
            <div className="buttons">
              <button
                type="button"
                onClick={() =>
                  void act(
                    () => session.api.testChannel(c.id),
                    () => {
                      setQueued(true);
                      reload();
                    },
                  )
                }
              >
                {t("notifications.sendTest")}
              </button>
              <button
                type="button"
                className="danger"
                onClick={() =>
                  void act(
                    () => session.api.deleteChannel(c.id),
                    () => navigate("/admin/notifications"),
                  )
                }
              >
                {t("notifications.deleteChannel")}
              </button>
            </div>
          )}
          {queued && <p role="status">{t("notifications.testQueued")}</p>}
          <h2>{t("notifications.deliveries")}</h2>
          {c.deliveries.length === 0 ? (
            <p className="muted">{t("notifications.noDeliveries")}</p>
          ) : (
            <Table
              headers={[
                t("notifications.event"),
                t("notifications.status"),
                t("notifications.attempts"),
                t("notifications.lastError"),
                t("common.created"),
                t("notifications.delivered"),
              ]}
            >
              {c.deliveries.map((d) => (
                <tr key={d.id} data-delivery={d.id} data-event={d.event} data-status={d.status}>
                  <td>{t(eventKey(d.event), { defaultValue: d.event })}</td>
                  <td>
                    <DeliveryStatus delivery={d} />
                  </td>
                  <td>{d.attempts}</td>
                  <td className="wrap">{d.last_error ?? ""}</td>
                  <td>{formatTime(d.created_at, i18n.language)}</td>
                  <td>{formatTime(d.delivered_at, i18n.language)}</td>
                </tr>
              ))}
            </Table>
          )}
        </>
      )}
    </section>
  );
}
