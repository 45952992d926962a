import { type Page, expect } from "@playwright/test";

export const ADMIN = "admin@example.com";
export const ANALYST = "analyst@example.com";

export function env(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: these tests are started by the Rust test in crates/api/tests/api/console.rs`);
  return value;
}

/** Everything the page said it refused or could not translate, and every API answer. */
export function watch(page: Page) {
  const problems: string[] = [];
  const answers: { url: string; body: Promise<string> }[] = [];
  const ours = new URL(env("SAGE_URL")).origin;
  page.on("console", (message) => {
    const text = message.text();
    // Only the console's own pages count, not the identity provider's.
    const from = message.location().url;
    if (from && !from.startsWith(ours)) return;
    if (
      message.type() === "error" &&
      !/Failed to load resource: the server responded with a status of 4\d\d/.test(text)
    ) {
      problems.push(text);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (new URL(response.url()).origin === new URL(env("SAGE_URL")).origin) {
      answers.push({ url: response.url(), body: response.text().catch(() => "") });
    }
  });
  return {
    problems,
    async bodies(): Promise<{ url: string; text: string }[]> {
      return Promise.all(answers.map(async (a) => ({ url: a.url, text: await a.body })));
    },
  };
}

export async function signInAsDemo(page: Page, email: string) {
  await page.goto("/");
  await page.locator(`button[data-email="${email}"]`).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(email);
}

export function statusOf(page: Page) {
  return page.locator(".execution-head [data-status]");
}
