// Findings over five real Custodian runs against the emulator: two buckets found
// unencrypted twice; both encrypted, then a run of another region (it did not cover
// them, so they stay open); a run of their region fixes both; one is unencrypted again
// and the last run reopens it. Each finding's page tells its history run by run; the
// diff of two runs and the trend say the same.

import { expect, type Page, test } from "@playwright/test";

import { ADMIN, env, signInAsDemo, watch } from "./helpers";

type Runs = [first: string, twice: string, otherRegion: string, fixing: string, reopening: string];

/** The five runs, oldest first. */
function runs(): Runs {
  const ids = env("SAGE_RUNS").split(",");
  if (ids.length !== 5) throw new Error(`five runs expected, got ${ids.length}`);
  return ids as Runs;
}

test("a fixed bucket and a reopened one, with their histories", async ({ page }) => {
  const fixed = env("SAGE_FIXED_BUCKET");
  const reopened = env("SAGE_REOPENED_BUCKET");
  const tag = env("SAGE_TAG");
  const [, , otherRegion, fixing] = runs();
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

  // The run of another region changed nothing: the fix came with the next run.
  await rows.first().getByRole("link").click();
  const history = page.locator("table.history tbody tr");
  await expect(history).toHaveCount(3);
  await expect(history.nth(0)).toHaveAttribute("data-to", "new");
  await expect(history.nth(1)).toHaveAttribute("data-to", "open");
  await expect(history.nth(2)).toHaveAttribute("data-to", "fixed");
  await expect(history.nth(2).getByRole("link")).toHaveAttribute("href", `/executions/${fixing}`);
  await expect(page.locator("table.history")).not.toContainText(otherRegion.slice(0, 8));
  await page.goBack();

  await page.getByLabel("State").selectOption("reopened");
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/findings\/[0-9a-f]{64}$/);
  await expect(page.locator(".finding-head [data-state]")).toHaveAttribute("data-state", "reopened");
  await expect(page.locator("main")).toContainText(reopened);
  await expect(history).toHaveCount(4);
  await expect(history.nth(3)).toHaveAttribute("data-to", "reopened");
  // Each change names the run that made it.
  await history.nth(2).getByRole("link").click();
  await expect(page).toHaveURL(`/executions/${fixing}`);

  expect(seen.problems).toEqual([]);
});

test("the diff of two runs says what each covered", async ({ page }) => {
  const [, twice, otherRegion, fixing, reopening] = runs();
  const seen = watch(page);
  await signInAsDemo(page, ADMIN);
  await page.goto("/findings");
  await page.getByRole("link", { name: "Compare two runs" }).click();
  await page.getByLabel("Tool").selectOption("custodian");

  // By default the tool's last two runs: one bucket came back.
  await expectChanges(page, { new: 0, reopened: 1, still_open: 0, fixed: 0, not_covered: 0 });
  await expect(page.getByLabel("Later run")).toHaveValue(reopening);
  await expect(page.getByLabel("Earlier run")).toHaveValue(fixing);

  // The run of another region fixed nothing: nobody looked.
  await page.getByLabel("Earlier run").selectOption(twice);
  await page.getByLabel("Later run").selectOption(otherRegion);
  await expectChanges(page, { new: 0, reopened: 0, still_open: 0, fixed: 0, not_covered: 2 });
  await expect(page).toHaveURL(new RegExp(`from=${twice}`));
  await expect(page).toHaveURL(new RegExp(`to=${otherRegion}`));

  await page.getByLabel("Later run").selectOption(fixing);
  await expectChanges(page, { new: 0, reopened: 0, still_open: 0, fixed: 2, not_covered: 0 });
  await expect(page.locator('[data-change="fixed"] tr[data-fingerprint]')).toHaveCount(2);

  expect(seen.problems).toEqual([]);
});

test("the trend, as a chart and as a table", async ({ page }) => {
  const seen = watch(page);
  await signInAsDemo(page, ADMIN);
  await page.goto("/findings");
  await page.getByRole("link", { name: "Trends" }).click();
  await page.getByLabel("Tool").selectOption("custodian");

  // One image, named and summarised for a screen reader; a bar per day.
  const chart = page.getByRole("img", { name: /Failing findings of Cloud Custodian per day/ });
  await expect(chart).toBeVisible();
  await expect(page.locator("svg [data-day]")).toHaveCount(90);
  const today = page.locator("svg [data-day]").last();
  await expect(today).toHaveAttribute("data-scanned", "true");
  await expect(today).toHaveAttribute("data-failing", "1");
  await expect(page.locator("svg desc")).toContainText("to 1");

  await page.getByRole("button", { name: "30 days" }).click();
  await expect(page).toHaveURL(/days=30/);
  await expect(page.locator("svg [data-day]")).toHaveCount(30);
  await expect(page.getByRole("button", { name: "30 days" })).toHaveAttribute("aria-pressed", "true");

  // The same figures without the picture: today's scan left one fixed.
  await page.getByText("The figures as a table").click();
  const lastRow = page.locator("table.trend-table tbody tr").last();
  await expect(lastRow.locator("td").nth(8)).toHaveText("1");
  await expect(lastRow.locator("td").last()).toHaveText("Yes");

  expect(seen.problems).toEqual([]);
});

async function expectChanges(page: Page, totals: Record<string, number>) {
  for (const [change, total] of Object.entries(totals)) {
    await expect(page.locator(`[data-change="${change}"] [data-total]`)).toHaveAttribute("data-total", String(total));
  }
}
