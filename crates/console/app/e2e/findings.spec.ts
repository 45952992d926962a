// Findings over three real Custodian runs: two buckets found unencrypted, both
// encrypted, then one unencrypted again. One is fixed, the other reopened; each
// finding's page tells its history, run by run.

import { expect, test } from "@playwright/test";

import { ADMIN, env, signInAsDemo, watch } from "./helpers";

test("a fixed bucket and a reopened one, with their histories", async ({ page }) => {
  const fixed = env("SAGE_FIXED_BUCKET");
  const reopened = env("SAGE_REOPENED_BUCKET");
  const tag = env("SAGE_TAG");
  const seen = watch(page);
  await signInAsDemo(page, ADMIN);

  await page.getByRole("link", { name: "Findings" }).click();
  await page.getByLabel("Resource").fill(`sage-${tag}-`);
  const rows = page.locator("tr[data-fingerprint]");
  await expect(rows).toHaveCount(2);
  // The state is a word beside a symbol, not a colour alone.
  await expect(rows.filter({ hasText: reopened })).toContainText("Reopened");
  await expect(rows.filter({ hasText: fixed })).toContainText("Fixed");

  // Filters live in the URL: a reload keeps them.
  await page.getByLabel("State").selectOption("fixed");
  await expect(page).toHaveURL(/state=fixed/);
  await page.reload();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(fixed);

  await page.getByLabel("State").selectOption("reopened");
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/findings\/[0-9a-f]{64}$/);
  await expect(page.locator(".finding-head [data-state]")).toHaveAttribute("data-state", "reopened");
  await expect(page.locator("main")).toContainText(reopened);
  const history = page.locator("table.history tbody tr");
  await expect(history).toHaveCount(3);
  await expect(history.nth(0)).toHaveAttribute("data-to", "new");
  await expect(history.nth(1)).toHaveAttribute("data-to", "fixed");
  await expect(history.nth(2)).toHaveAttribute("data-to", "reopened");
  // Each change names the run that made it.
  await history.nth(1).getByRole("link").click();
  await expect(page).toHaveURL(/\/executions\/[0-9a-f-]{36}$/);

  expect(seen.problems).toEqual([]);
});
