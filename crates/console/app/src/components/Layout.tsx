import { type ReactNode, useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, useLocation } from "react-router-dom";

import { hasRole, useSession } from "../auth/context";
import { LanguageSwitch } from "./LanguageSwitch";

export function Layout({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const session = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // A new page is announced: focus moves to its content (not on the first load).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [location.pathname]);
  const admin = hasRole(session, "admin");
  const overseer = hasRole(session, "admin", "auditor", "approver");
  const links: [string, string, boolean][] = [
    ["/modules", t("nav.modules"), true],
    ["/executions", t("nav.runs"), true],
    ["/approvals", t("nav.approvals"), hasRole(session, "admin", "approver")],
    ["/scanners", t("nav.scanners"), true],
    ["/findings", t("nav.findings"), true],
    ["/evidence", t("nav.evidence"), true],
    ["/scans", t("nav.scans"), true],
    ["/schedules", t("nav.schedules"), true],
    ["/accounts", t("nav.accounts"), overseer],
    ["/admin/scripts", t("nav.scripts"), admin],
    ["/admin/modules", t("nav.adminModules"), admin],
    ["/admin/audit", t("nav.audit"), hasRole(session, "admin", "auditor")],
    ["/admin/notifications", t("nav.notifications"), overseer],
  ];
  return (
    <div className="shell">
      <a className="skip" href="#main">
        {t("nav.skip")}
      </a>
      <header className="top">
        <span className="brand">{t("app.name")}</span>
        <nav aria-label={t("nav.label")}>
          <ul>
            {links
              .filter(([, , shown]) => shown)
              .map(([to, label]) => (
                <li key={to}>
                  <NavLink to={to}>{label}</NavLink>
                </li>
              ))}
          </ul>
        </nav>
        <div className="who">
          {session.mode === "demo" && <span className="demo-badge">{t("signIn.demoBadge")}</span>}
          <span data-testid="signed-in-as">{session.me.email}</span>
          {session.me.roles.map((role) => (
            <span key={role} className="tag">
              {t(`roles.${role}`, { defaultValue: role })}
            </span>
          ))}
          <LanguageSwitch />
          <button type="button" onClick={session.signOut}>
            {t("signIn.signOut")}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1} ref={main}>
        {children}
      </main>
    </div>
  );
}
