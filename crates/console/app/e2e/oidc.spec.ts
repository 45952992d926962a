// Scenario 3: sign-in through a real OpenID provider (code flow with PKCE); the console
// then calls the API with the access token; forged and expired tokens are refused.

import { SignJWT, generateKeyPair } from "jose";
import { expect, test } from "@playwright/test";

import { ANALYST, env, watch } from "./helpers";
import { AUDIENCE, type Idp, KID, startIdp } from "./idp";

let idp: Idp;

test.beforeAll(async () => {
  idp = await startIdp(Number(env("SAGE_IDP_PORT")), new URL(env("SAGE_URL")).origin);
});

test.afterAll(async () => {
  await idp?.close();
});

test("sign-in with PKCE at a real provider; forged and expired tokens refused", async ({ page }) => {
  const seen = watch(page);
  const authorizations: string[] = [];
  page.on("request", (request) => {
    const auth = request.headers()["authorization"];
    if (request.url().includes("/api/v1/") && auth) authorizations.push(auth);
  });

  await page.goto("/executions");
  await page.getByRole("button", { name: "Sign in" }).click();

  // The provider's own login page, on its own origin.
  await expect(page).toHaveURL(new RegExp(`^${idp.issuer}/`));
  await page.locator("input[name=login]").fill(ANALYST);
  await page.locator("input[name=password]").fill("any password works here");
  await page.locator("button[type=submit]").click();
  // Its consent page names the API's scope.
  await expect(
    page
      .getByRole("listitem")
      .filter({ hasText: /^sage$/ })
      .first(),
  ).toBeVisible();
  await page.getByRole("button", { name: "Continue" }).click();

  // Back in the console, on the page the user first asked for, signed in.
  await expect(page.getByTestId("signed-in-as")).toHaveText(ANALYST);
  await expect(page).toHaveURL(/\/executions$/);
  await expect(page.getByRole("heading", { name: "My runs" })).toBeVisible();
  expect(authorizations.length).toBeGreaterThan(0);
  expect(authorizations.every((a) => /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(a))).toBe(true);
  const token = authorizations[0]!.slice("Bearer ".length);
  // The token stays in memory: nothing in web storage holds it.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  expect(stored).not.toContain(token);

  const me = (token: string) => page.request.get("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } });
  expect((await me(token)).status()).toBe(200);
  expect(await (await me(token)).json()).toMatchObject({ email: ANALYST });

  // Signed by someone else under the provider's key id.
  const stranger = (await generateKeyPair("RS256")).privateKey;
  const forged = await sign(stranger, { exp: now() + 600 });
  expect((await me(forged)).status()).toBe(401);
  // The provider's key: accepted while valid, refused once expired beyond the leeway.
  expect((await me(await sign(idp.privateKey, { exp: now() + 600 }))).status()).toBe(200);
  const expired = await sign(idp.privateKey, { exp: now() - 3600, iat: now() - 7200 });
  expect((await me(expired)).status()).toBe(401);
  // The provider's key and a valid time, but tampered with after signing.
  const [head, , mac] = token.split(".");
  const claims = {
    ...JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()),
    email: "admin@example.com",
  };
  const tampered = `${head}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${mac}`;
  expect((await me(tampered)).status()).toBe(401);

  // A reload forgets the token but not the sign-in: the issuer's session answers
  // without a prompt, and the user is back where they were.
  await page.reload();
  await expect(page.getByTestId("signed-in-as")).toHaveText(ANALYST);
  await expect(page).toHaveURL(/\/executions$/);
  const afterReload = authorizations[authorizations.length - 1];

  // The console renews the token before it expires (refresh token grant) and uses
  // the new one.
  await page.waitForRequest(
    (request) =>
      request.url().startsWith(idp.issuer) && (request.postData() ?? "").includes("grant_type=refresh_token"),
    { timeout: 60_000 },
  );
  await expect
    .poll(async () => {
      await page.getByRole("link", { name: "Modules" }).click();
      await page.getByRole("link", { name: "Runs" }).click();
      return authorizations[authorizations.length - 1];
    })
    .not.toBe(afterReload);
  await expect(page.getByTestId("signed-in-as")).toHaveText(ANALYST);

  // Signing out revokes the refresh token and ends the issuer's session too: signing
  // in again asks for the password.
  const revoked = page.waitForRequest((request) => request.url().startsWith(`${idp.issuer}/token/revocation`));
  await page.getByRole("button", { name: "Sign out" }).click();
  await revoked;
  await expect(page).toHaveURL(new RegExp(`^${idp.issuer}/`));
  await page.getByRole("button", { name: /sign me out/i }).click();
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("input[name=password]")).toBeVisible();
  expect(seen.problems).toEqual([]);
});

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function sign(key: CryptoKey, times: { exp: number; iat?: number }): Promise<string> {
  return new SignJWT({ email: ANALYST, email_verified: true })
    .setProtectedHeader({ alg: "RS256", kid: KID })
    .setIssuer(new URL(`http://127.0.0.1:${env("SAGE_IDP_PORT")}`).origin)
    .setAudience(AUDIENCE)
    .setSubject(ANALYST)
    .setIssuedAt(times.iat ?? now())
    .setExpirationTime(times.exp)
    .sign(key);
}
