// A real OpenID provider for the sign-in tests (oidc-provider, the certified library),
// on localhost: the console's public client with PKCE, sage's native client (the device
// grant, or PKCE on a loopback redirect), JWT access tokens for the API's audience
// carrying the user's email, any password accepted by its dev login page.

import type { AddressInfo } from "node:net";
import type { Server } from "node:http";

import { type JWK, exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

export const AUDIENCE = "sage-runner";
export const RESOURCE = "urn:sage-runner";
export const CLIENT_ID = "sage-console";
export const CLI_CLIENT_ID = "sage-cli";
export const KID = "sage-test-key";

export interface Idp {
  issuer: string;
  /** Signs tokens as the provider does: the test forges expired ones with it. */
  privateKey: CryptoKey;
  close: () => Promise<void>;
}

export interface IdpOptions {
  /** Whether the provider offers the device authorization grant (RFC 8628). */
  deviceFlow: boolean;
  /** Whether sage's client may use it, where it is offered (default: yes). */
  deviceGrantToSage?: boolean;
}

export async function startIdp(
  port: number,
  consoleOrigin: string,
  options: IdpOptions = { deviceFlow: true },
): Promise<Idp> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: KID, alg: "RS256", use: "sig" };
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: "none",
        application_type: "web",
        redirect_uris: [`${consoleOrigin}/auth/callback`],
        post_logout_redirect_uris: [`${consoleOrigin}/`],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
      {
        // A native client: any port of the loopback redirect is accepted (RFC 8252 7.3).
        client_id: CLI_CLIENT_ID,
        token_endpoint_auth_method: "none",
        application_type: "native",
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: [
          ...(options.deviceFlow && options.deviceGrantToSage !== false
            ? ["urn:ietf:params:oauth:grant-type:device_code"]
            : []),
          "authorization_code",
          "refresh_token",
        ],
        response_types: ["code"],
      },
    ],
    jwks: { keys: [jwk] },
    pkce: { required: () => true },
    cookies: { keys: ["sage-test-only-cookie-key"] },
    // Access tokens live 65 s, so the test sees the console renew one.
    ttl: {
      AccessToken: 65,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      IdToken: 600,
      AuthorizationCode: 60,
      RefreshToken: 3600,
      DeviceCode: 600,
    },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    scopes: ["openid", "email", "profile", "offline_access", "sage"],
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: sub, email_verified: true, name: sub }),
    }),
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: options.deviceFlow },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "sage",
          audience: AUDIENCE,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    extraTokenClaims: async (_ctx, token) =>
      token.kind === "AccessToken" && token.accountId ? { email: token.accountId, email_verified: true } : undefined,
    clientBasedCORS: (_ctx, origin) => origin === consoleOrigin,
  });
  const server: Server = await new Promise((resolve) => {
    const listening = provider.listen(port, "127.0.0.1", () => resolve(listening));
  });
  const bound = (server.address() as AddressInfo).port;
  if (bound !== port) throw new Error(`the provider listens on ${bound}, not ${port}`);
  return {
    issuer,
    privateKey: privateKey as CryptoKey,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
