import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { CHANNEL_KINDS, type ChannelKind } from "../../api/types";
import { useSession } from "../../auth/context";
import { Field, FormProblem, fieldMessage } from "../../components/Field";
import { CHANNEL_FIELDS, type ChannelFields, channelBody } from "./bodies";

const EMPTY: ChannelFields = {
  name: "",
  kind: "webhook",
  url: "",
  secret: "",
  smtpHost: "",
  smtpPort: "",
  smtpTls: "starttls",
  username: "",
  password: "",
  from: "",
  to: "",
  caCertificate: "",
};

/** Adds a channel (admins): the inputs follow its kind, each refusal shown beside its
 * input. Secrets are written here and never shown again. */
export function ChannelForm({ onSaved }: { onSaved: () => void }) {
  const { t } = useTranslation();
  const { api } = useSession();
  const [fields, setFields] = useState(EMPTY);
  const [failure, setFailure] = useState<unknown>();
  const set = (key: keyof ChannelFields) => (e: { target: { value: string } }) =>
    setFields((f) => ({ ...f, [key]: e.target.value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    setFailure(undefined);
    try {
      await api.createChannel(channelBody(fields));
      setFields(EMPTY);
      onSaved();
    } catch (error) {
      setFailure(error);
    }
  }

  const input = (key: keyof ChannelFields, field: string, label: string, hint?: string, type = "text") => (
    <Field id={`channel-${field}`} label={label} error={fieldMessage(failure, field)} hint={hint}>
      <input
        id={`channel-${field}`}
        type={type}
        autoComplete={type === "password" ? "new-password" : "off"}
        value={fields[key]}
        onChange={set(key)}
      />
    </Field>
  );
  const kind = fields.kind;
  return (
    <form onSubmit={(e) => void submit(e)} className="stack" aria-labelledby="channel-form">
      <h3 id="channel-form">{t("notifications.newChannel")}</h3>
      {input("name", "name", t("notifications.name"))}
      <Field id="channel-kind" label={t("notifications.kind")} error={fieldMessage(failure, "kind")}>
        <select
          id="channel-kind"
          value={kind}
          onChange={(e) => {
            setFields((f) => ({ ...f, kind: e.target.value as ChannelKind }));
            // Another kind takes other fields: what was said of the last one is gone.
            setFailure(undefined);
          }}
        >
          {CHANNEL_KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`notifications.kinds.${k}`)}
            </option>
          ))}
        </select>
      </Field>
      {kind !== "email" &&
        input(
          "url",
          "url",
          t("notifications.url"),
          t(kind === "slack" ? "notifications.slackHint" : "notifications.urlHint"),
        )}
      {kind === "webhook" &&
        input("secret", "secret", t("notifications.secret"), t("notifications.secretHint"), "password")}
      {kind === "email" && (
        <>
          {input("smtpHost", "smtp_host", t("notifications.smtpHost"))}
          <Field id="channel-smtp_tls" label={t("notifications.smtpTls")} error={fieldMessage(failure, "smtp_tls")}>
            <select id="channel-smtp_tls" value={fields.smtpTls} onChange={set("smtpTls")}>
              <option value="starttls">{t("notifications.tls.starttls")}</option>
              <option value="tls">{t("notifications.tls.tls")}</option>
            </select>
          </Field>
          <Field
            id="channel-smtp_port"
            label={t("notifications.smtpPort")}
            hint={t("notifications.smtpPortHint")}
            error={fieldMessage(failure, "smtp_port")}
          >
            <input
              id="channel-smtp_port"
              type="number"
              min={1}
              max={65535}
              value={fields.smtpPort}
              onChange={set("smtpPort")}
            />
          </Field>
          {input("username", "username", t("notifications.username"))}
          {input("password", "password", t("notifications.password"), undefined, "password")}
          {input("from", "from", t("notifications.from"))}
          <Field
            id="channel-to"
            label={t("notifications.to")}
            hint={t("notifications.toHint")}
            error={fieldMessage(failure, "to")}
          >
            <textarea id="channel-to" rows={2} value={fields.to} onChange={set("to")} />
          </Field>
          <Field
            id="channel-ca_certificate"
            label={t("notifications.caCertificate")}
            hint={t("notifications.caHint")}
            error={fieldMessage(failure, "ca_certificate")}
          >
            <textarea
              id="channel-ca_certificate"
              rows={3}
              className="code"
              spellCheck={false}
              value={fields.caCertificate}
              onChange={set("caCertificate")}
            />
          </Field>
        </>
      )}
      <div className="buttons">
        <button type="submit" className="primary">
          {t("notifications.addChannel")}
        </button>
      </div>
      <FormProblem error={failure} shown={CHANNEL_FIELDS[kind]} />
    </form>
  );
}
