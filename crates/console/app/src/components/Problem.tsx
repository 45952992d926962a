import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";

/** An API failure as the user should read it: the server's message and every field. */
export function Problem({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  if (error instanceof ApiError) {
    return (
      <div className="problem" role="alert">
        <p>
          <strong>
            {t(`errors.${error.status === 404 ? "notFound" : error.status === 403 ? "forbidden" : "failed"}`)}
          </strong>{" "}
          {error.message}
        </p>
        {error.fields.length > 0 && (
          <ul>
            {error.fields.map((f, i) => (
              <li key={i}>
                <code>{f.field}</code>: {f.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return (
    <div className="problem" role="alert">
      <p>
        <strong>{t("errors.failed")}</strong> {String(error)}
      </p>
    </div>
  );
}
