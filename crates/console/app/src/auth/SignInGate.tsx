// Nothing below renders until someone is signed in: in demo mode by picking a demo
// user, with OpenID Connect through the issuer's sign-in page.

import { type ReactNode, useCallback, useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router-dom";

import { ApiError, signInSettings } from "../api/client";
import type { SignIn } from "../api/types";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { Problem } from "../components/Problem";
import { SessionContext } from "./context";
import { CALLBACK_PATH, OidcSignIn, type Session, demo } from "./session";

type Gate =
  | { state: "loading" }
  | { state: "failed"; error: unknown }
  | { state: "signed_out"; settings: SignIn; notice?: string }
  | { state: "signed_in"; session: Session };

export function SignInGate({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const [gate, setGate] = useState<Gate>({ state: "loading" });
  const [settings, setSettings] = useState<SignIn | null>(null);

  const oidc = useMemo(
    () => (settings?.mode === "oidc" && settings.client_id ? new OidcSignIn(settings, settings.client_id) : null),
    [settings],
  );

  const signedOut = useCallback(
    (notice?: string) => settings && setGate({ state: "signed_out", settings, notice }),
    [settings],
  );

  useEffect(() => {
    signInSettings().then(setSettings, (error) => setGate({ state: "failed", error }));
  }, []);

  const enter = useCallback(
    async (session: Omit<Session, "me">, onMe?: () => void) => {
      try {
        const me = await session.api.me();
        setGate({ state: "signed_in", session: { ...session, me } });
        onMe?.();
      } catch (error) {
        if (!settings) return;
        const notice = error instanceof ApiError ? error.message : String(error);
        setGate({ state: "signed_out", settings, notice });
      }
    },
    [settings],
  );

  const signInAsDemo = useCallback(
    (email: string) => {
      demo.remember(email);
      const signOut = () => {
        demo.forget();
        signedOut();
      };
      void enter({ api: demo.api(email, () => signedOut(t("signIn.expired"))), mode: "demo", signOut });
    },
    [enter, signedOut, t],
  );

  useEffect(() => {
    if (!settings) return;
    if (settings.mode === "demo_header") {
      const remembered = demo.remembered();
      if (remembered) signInAsDemo(remembered);
      else setGate({ state: "signed_out", settings });
      return;
    }
    if (!oidc) {
      setGate({ state: "signed_out", settings });
      return;
    }
    oidc.onLost(() => signedOut(t("signIn.expired")));
    const session = {
      api: oidc.api(() => signedOut(t("signIn.expired"))),
      mode: "oidc" as const,
      signOut: () => {
        signedOut();
        void oidc.signOut();
      },
    };
    if (location.pathname === CALLBACK_PATH) {
      oidc.finish().then(
        (returnTo) => void enter(session, () => navigate(returnTo, { replace: true })),
        (error) => setGate({ state: "signed_out", settings, notice: String(error) }),
      );
    } else if (oidc.wasSignedIn()) {
      // A reload: the issuer's session signs the user in again without a prompt.
      void oidc.start(location.pathname + location.search);
    } else {
      setGate({ state: "signed_out", settings });
    }
    // The sign-in runs once per page load; later navigation does not restart it.
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per settings, not per render
  }, [settings, oidc]);

  switch (gate.state) {
    case "loading":
      return (
        <p className="centered" role="status">
          {t("common.loading")}
        </p>
      );
    case "failed":
      return (
        <main className="centered">
          <Problem error={gate.error} />
        </main>
      );
    case "signed_in":
      return <SessionContext.Provider value={gate.session}>{children}</SessionContext.Provider>;
    case "signed_out":
      return (
        <SignInPage
          settings={gate.settings}
          notice={gate.notice}
          onDemo={signInAsDemo}
          onOidc={
            oidc ? () => void oidc.start(location.pathname === CALLBACK_PATH ? "/" : location.pathname) : undefined
          }
        />
      );
  }
}

function SignInPage(props: {
  settings: SignIn;
  notice?: string;
  onDemo: (email: string) => void;
  onOidc?: () => void;
}) {
  const { t } = useTranslation();
  const [email, setEmail] = useState("");
  return (
    <main className="sign-in">
      <header>
        <h1>{t("app.name")}</h1>
        <LanguageSwitch />
      </header>
      {props.notice && (
        <p className="notice" role="alert">
          {props.notice}
        </p>
      )}
      {props.settings.mode === "demo_header" ? (
        <section aria-labelledby="demo-title">
          <h2 id="demo-title">
            {t("signIn.demoTitle")} <span className="demo-badge">{t("signIn.demoBadge")}</span>
          </h2>
          <p>{t("signIn.demoExplain")}</p>
          <ul className="demo-users">
            {props.settings.demo_users.map((user) => (
              <li key={user.email}>
                <button type="button" data-email={user.email} onClick={() => props.onDemo(user.email)}>
                  {t("signIn.as", { email: user.email })}
                  {user.admin && <span className="tag">{t("roles.admin")}</span>}
                </button>
              </li>
            ))}
          </ul>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              if (email.trim()) props.onDemo(email.trim().toLowerCase());
            }}
          >
            <label htmlFor="demo-email">{t("signIn.otherUser")}</label>
            <input id="demo-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
            <button type="submit">{t("signIn.submit")}</button>
          </form>
        </section>
      ) : props.onOidc ? (
        <section>
          <p>{t("signIn.oidcExplain", { issuer: props.settings.issuer })}</p>
          <button type="button" className="primary" onClick={props.onOidc}>
            {t("signIn.oidcButton")}
          </button>
        </section>
      ) : (
        <p role="alert">{t("signIn.noClient")}</p>
      )}
    </main>
  );
}
