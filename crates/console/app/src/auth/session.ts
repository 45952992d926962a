// Who is signed in and how their requests prove it: a demo user's header, or an
// OpenID Connect access token held in memory only (never in web storage).

import { InMemoryWebStorage, UserManager, WebStorageStateStore, type User } from "oidc-client-ts";

import { Api } from "../api/client";
import type { Me, SignIn } from "../api/types";

export interface Session {
  me: Me;
  api: Api;
  mode: "demo" | "oidc";
  signOut: () => void;
}

const DEMO_KEY = "sage.demoUser";
/** This tab signed in with OpenID Connect: a reload signs in again on its own. */
const OIDC_KEY = "sage.oidcSignedIn";
export const CALLBACK_PATH = "/auth/callback";

/** Demo mode: the chosen user is remembered for this tab only. */
export const demo = {
  remembered: (): string | null => sessionStorage.getItem(DEMO_KEY),
  remember: (email: string) => sessionStorage.setItem(DEMO_KEY, email),
  forget: () => sessionStorage.removeItem(DEMO_KEY),
  api: (email: string, onUnauthorized: () => void) => new Api(async () => ({ "X-Demo-User": email }), onUnauthorized),
};

/** OpenID Connect: Authorization Code with PKCE, the tokens renewed before expiry. */
export class OidcSignIn {
  readonly manager: UserManager;
  private user: User | null = null;

  constructor(settings: Extract<SignIn, { mode: "oidc" }>, clientId: string) {
    this.manager = new UserManager({
      authority: settings.issuer,
      client_id: clientId,
      redirect_uri: window.location.origin + CALLBACK_PATH,
      post_logout_redirect_uri: window.location.origin + "/",
      response_type: "code",
      scope: settings.scopes,
      // The tokens live in this page's memory only; the PKCE verifier of a sign-in in
      // progress must survive the redirect, so it alone goes to session storage.
      userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
      stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
      automaticSilentRenew: true,
    });
    this.manager.events.addUserLoaded((user) => {
      this.user = user;
    });
    this.manager.events.addUserUnloaded(() => {
      this.user = null;
    });
  }

  start(returnTo: string): Promise<void> {
    return this.manager.signinRedirect({ state: { returnTo } });
  }

  /** Finishes a sign-in on the callback page; answers where the user was going. */
  async finish(): Promise<string> {
    const user = await this.manager.signinRedirectCallback();
    this.user = user;
    sessionStorage.setItem(OIDC_KEY, "1");
    const state = user.state as { returnTo?: string } | undefined;
    const returnTo = state?.returnTo ?? "/";
    return returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/";
  }

  api(onUnauthorized: () => void): Api {
    return new Api(async (): Promise<Record<string, string>> => {
      const user = this.user ?? (await this.manager.getUser());
      return user && !user.expired ? { Authorization: `Bearer ${user.access_token}` } : {};
    }, onUnauthorized);
  }

  /** The session is over: the token expired without a renewal. A failed renewal
   * alone is not the end (the next attempt, or the token's own time, decides). */
  onLost(listener: () => void): void {
    this.manager.events.addAccessTokenExpired(listener);
  }

  /** Whether this tab was signed in before a reload (the token itself was not kept). */
  wasSignedIn(): boolean {
    return sessionStorage.getItem(OIDC_KEY) === "1";
  }

  /** Ends the session here and at the issuer: the refresh token is revoked where the
   * issuer can, and its own session ends too, so the next person at this browser
   * is asked who they are. */
  async signOut(): Promise<void> {
    sessionStorage.removeItem(OIDC_KEY);
    const user = this.user ?? (await this.manager.getUser());
    this.user = null;
    await this.manager.revokeTokens(["refresh_token"]).catch(() => undefined);
    const metadata = await this.manager.metadataService.getMetadata().catch(() => undefined);
    if (metadata?.end_session_endpoint && user?.id_token) {
      await this.manager.signoutRedirect({ id_token_hint: user.id_token });
    } else {
      await this.manager.removeUser();
    }
  }
}
