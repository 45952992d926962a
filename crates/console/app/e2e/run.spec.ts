// Scenario 1: an analyst runs backup-db through the generated form, sees its log while
// it runs, downloads backup.log, and the secret shows nowhere.

import { readFile } from "node:fs/promises";

import { expect, test } from "@playwright/test";

import { ANALYST, env, signInAsDemo, statusOf, watch } from "./helpers";

test("an analyst runs backup-db from the form and downloads its log", async ({ page }) => {
  const secret = env("SAGE_SECRET");
  const seen = watch(page);
  await signInAsDemo(page, ANALYST);

  await page.getByRole("link", { name: "backup-db" }).click();
  // The form is generated from the schema: the enum is a list, the secret hidden.
  await expect(page.getByLabel("backup_key")).toHaveAttribute("type", "password");
  await expect(page.getByLabel("retention_days")).toHaveValue("7");

  const fieldOf = (name: string) =>
    page.locator(`#param_${name}`).locator("xpath=ancestor::div[contains(@class,'form-group')][1]");

  // A value the schema refuses is shown at its field before anything is sent.
  await page.getByLabel("db_name").selectOption("orders");
  await page.getByLabel("backup_key").fill(secret);
  await page.getByLabel("notify_email").fill("ops@example.com");
  await page.getByLabel("retention_days").fill("400");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(fieldOf("retention_days")).toContainText("must be at most 365");
  await expect(page).not.toHaveURL(/\/executions\//);

  // A refusal only the server makes (a lone argument that reads as an option) comes
  // back as a 400 and is shown at its field too, and nothing runs.
  await page.getByLabel("retention_days").fill("30");
  await page.getByLabel("notify_email").fill("--config=/work/x@example.com");
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && /\/executions$/.test(r.url())),
    page.getByRole("button", { name: "Run", exact: true }).click(),
  ]);
  expect(refused.status()).toBe(400);
  await expect(fieldOf("notify_email")).toContainText("must not start with '-'");
  await expect(page).not.toHaveURL(/\/executions\//);

  await page.getByLabel("notify_email").fill("ops@example.com");
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page).toHaveURL(/\/executions\/[0-9a-f-]{36}$/);

  // Lines arrive while the run is still going.
  await expect(page.locator('[data-seq="1"]')).toContainText("backup of orders started");
  await expect(statusOf(page)).toHaveAttribute("data-status", "running");
  await expect(page.getByText("backup of orders complete")).toHaveCount(0);

  await expect(statusOf(page)).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(page.getByText("backup of orders complete")).toBeVisible();
  await expect(page.getByTestId("execution-reason")).toHaveText("—");
  await expect(page.getByRole("row", { name: /backup_key/ })).toContainText("***");

  const link = page.getByTestId("artifact-link").filter({ hasText: "backup.log" });
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const text = await readFile(await download.path(), "utf8");
  expect(text).toContain("backup of orders started");
  expect(text).toContain("retention: 30 days");
  expect(text).not.toContain(secret);

  // The log as text, through the page's own download.
  const [logText] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download as text" }).click(),
  ]);
  expect(await readFile(await logText.path(), "utf8")).toContain("step 4/4");

  expect(await page.content()).not.toContain(secret);
  await page.getByRole("link", { name: "Runs" }).click();
  // The execution page's own tables may still show for a moment: wait for the list.
  await expect(page).toHaveURL(/\/executions(\?.*)?$/);
  await expect(page.getByRole("table").filter({ hasText: "backup-db v1" })).toBeVisible();
  expect(await page.content()).not.toContain(secret);

  for (const answer of await seen.bodies()) {
    expect(answer.text, `the answer of ${answer.url}`).not.toContain(secret);
  }
  expect(seen.problems).toEqual([]);
});

test("the API reference renders from the api's own origin", async ({ page }) => {
  const seen = watch(page);
  const ours = new URL(env("SAGE_URL")).origin;
  const elsewhere: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).origin !== ours) elsewhere.push(request.url());
  });
  await page.goto("/docs");
  // Swagger UI drew the operations of /openapi.json under its strict policy.
  await expect(page.locator(".opblock").first()).toBeVisible();
  expect(await page.locator(".opblock").count()).toBeGreaterThan(20);
  expect(elsewhere).toEqual([]);
  expect(seen.problems).toEqual([]);
});
