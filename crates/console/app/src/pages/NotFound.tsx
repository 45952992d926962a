import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

export function NotFound() {
  const { t } = useTranslation();
  return (
    <section>
      <h1>{t("errors.notFound")}</h1>
      <p>
        <Link to="/modules">{t("nav.modules")}</Link>
      </p>
    </section>
  );
}
