import { useTranslation } from "react-i18next";

import type { Channel, Delivery } from "../../api/types";

/** Where a channel sends, as far as may be shown: a webhook's URL, a Slack webhook's
 * host (its URL is its secret), or the mail server and the recipients. */
export function ChannelWhere({ channel }: { channel: Channel }) {
  const { t } = useTranslation();
  const c = channel.config;
  if (channel.kind === "email") {
    return <>{t("notifications.mailTo", { host: `${c.host}:${c.port}`, to: (c.to ?? []).join(", ") })}</>;
  }
  return <>{c.url ?? c.host ?? "—"}</>;
}

// A symbol beside the word, as for runs: colour is never the only sign.
const DELIVERY: Record<string, [symbol: string, looks: string]> = {
  pending: ["…", "queued"],
  delivered: ["✔", "succeeded"],
  failed: ["✖", "failed"],
};

/** How a message went: waiting to be sent or tried again, delivered, or given up. */
export function DeliveryStatus({ delivery }: { delivery: Delivery }) {
  const { t } = useTranslation();
  const [symbol, looks] = DELIVERY[delivery.status] ?? ["?", "lost"];
  return (
    <span className={`status status-${looks}`}>
      <span aria-hidden="true">{symbol}</span>{" "}
      {t(`notifications.deliveryStatus.${delivery.status}`, { defaultValue: delivery.status })}
    </span>
  );
}
