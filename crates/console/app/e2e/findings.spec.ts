// Findings over five real Custodian runs against the emulator: two buckets found
// unencrypted twice; both encrypted, then a run of another region (it did not cover
// them, so they stay open); a run of their region fixes both; one is unencrypted again
// and the last run reopens it. Each finding's page tells its history run by run; the
// diff of two runs and the trend say the same.

import { expect, type Page, test } from "@playwright/test";

import { ADMIN, ANALYST, env, signInAsDemo, watch } from "./helpers";

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

test("an evidence report with ISMS-P requirements, found again among past reports", async ({ page }) => {
  const seen = watch(page);
  await signInAsDemo(page, ADMIN);
  await page.getByRole("link", { name: "Evidence" }).click();
  const form = page.getByRole("form", { name: "Evidence report" });
  for (const tool of ["Prowler", "Scout Suite", "Steampipe / Powerpipe"]) {
    await form.getByLabel(tool).uncheck();
  }
  await form.getByLabel("Language").selectOption("ko");
  await form.getByLabel("Requirements of").selectOption("kisa_isms_p_2023_korean_aws");
  await form.getByRole("button", { name: "Build the PDF" }).click();
  await expect(page.getByRole("status")).toContainText("Ready", { timeout: 60_000 });

  const row = page.locator("tr[data-report]").first();
  await expect(row).toHaveAttribute("data-status", "ready");
  await expect(row).toContainText("kisa_isms_p_2023_korean_aws");
  await expect(row).toContainText(ADMIN);
  const [pdf] = await Promise.all([
    page.waitForResponse((r) => r.url().includes("/report.pdf")),
    row.getByRole("button", { name: "PDF" }).click(),
  ]);
  expect(pdf.status()).toBe(200);
  expect(pdf.headers()["content-type"]).toBe("application/pdf");
  await page.goto("/evidence");
  const [pack] = await Promise.all([
    page.waitForResponse((r) => r.url().includes("/pack.zip")),
    page.locator("tr[data-report]").first().getByRole("button", { name: "Signed pack" }).click(),
  ]);
  expect(pack.status()).toBe(200);
  expect(pack.headers()["content-type"]).toBe("application/zip");
  expect(seen.problems).toEqual([]);
});

// Last: it changes where the reopened bucket stands.
test("a risk accepted by a second person, then revoked by its requester", async ({ browser }) => {
  const reopened = env("SAGE_REOPENED_BUCKET");
  const tag = env("SAGE_TAG");
  const analyst = await (await browser.newContext()).newPage();
  const admin = await (await browser.newContext()).newPage();
  const seen = [watch(analyst), watch(admin)];

  // The analyst, who may view Custodian's runs, asks from the finding's page.
  await signInAsDemo(analyst, ANALYST);
  await analyst.getByRole("link", { name: "Findings" }).click();
  await analyst.getByLabel("Resource").fill(`sage-${tag}-`);
  await analyst.locator("tr[data-fingerprint]").filter({ hasText: reopened }).getByRole("link").click();
  const findingPage = analyst.url();
  await analyst.getByLabel("Why").fill("a test bucket, deleted next week");
  await analyst.getByLabel("For").selectOption("30");
  await analyst.getByRole("button", { name: "Ask for approval" }).click();
  await expect(analyst.getByRole("status")).toContainText("second person");
  await expect(analyst.locator(".finding-head")).toContainText("Reopened");

  // A second person decides, from the inbox beside the runs waiting for approval.
  await signInAsDemo(admin, ADMIN);
  await admin.getByRole("link", { name: "Approvals" }).click();
  const card = admin.getByTestId("acceptance-card").filter({ hasText: "a test bucket" });
  await expect(card).toContainText(ANALYST);
  await expect(card.getByTestId("countdown")).toHaveText(/^(29|30) days left$/);
  await card.getByLabel("Comment").fill("agreed with the owner");
  await card.getByRole("button", { name: "Approve" }).click();
  await expect(card).toHaveCount(0);

  // Accepted, saying who asked, who approved, why and until when.
  await analyst.goto(findingPage);
  await expect(analyst.locator(".finding-head")).toContainText("Accepted");
  const facts = analyst.locator("dl.acceptance");
  await expect(facts).toContainText("a test bucket, deleted next week");
  await expect(facts).toContainText(ANALYST);
  await expect(facts).toContainText(ADMIN);
  await expect(analyst.locator("table.history tbody tr").last()).toContainText("Risk acceptance");

  // Listed with the time it has left; its requester withdraws it, and it fails again.
  await analyst.goto("/findings/acceptances");
  const row = analyst.locator("tr[data-status=approved]");
  await expect(row).toContainText("1 finding");
  await expect(row.getByTestId("countdown")).toHaveText(/^(29|30) days left$/);
  await row.getByLabel("Why revoke").fill("the bucket stays after all");
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(analyst.locator("tr[data-status=revoked]")).toHaveCount(1);
  await analyst.goto(findingPage);
  await expect(analyst.locator(".finding-head")).toContainText("Reopened");

  // From a choice on the Findings page: each chosen finding asked for on its own; a
  // fixed one cannot be chosen.
  await analyst.goto(`/findings?resource=sage-${tag}-`);
  await expect(analyst.locator("tr[data-fingerprint]")).toHaveCount(2);
  await expect(analyst.locator("tr[data-fingerprint] input[type=checkbox]")).toHaveCount(1);
  await analyst.getByLabel(`Choose unencrypted on ${reopened}`).check();
  await analyst.getByLabel("Why").fill("chosen from the list");
  await analyst.getByRole("button", { name: "Ask for approval" }).click();
  await expect(analyst.getByRole("status")).toContainText("second person");
  await analyst.goto("/findings/acceptances?status=requested");
  await expect(analyst.locator("tr[data-status=requested]")).toContainText("chosen from the list");

  // From the finding's page, its check wherever it fails among these test buckets, in
  // its account and region: a bare `*` is refused by name, a pattern is asked for.
  await analyst.goto(findingPage);
  await analyst.getByLabel("Check unencrypted wherever it fails within").check();
  // Where the finding failed: the account whose role the run assumed, and its region.
  await expect(analyst.getByLabel("Accounts")).toHaveValue("123456789012");
  await expect(analyst.getByLabel("Regions")).toHaveValue("us-east-1");
  await analyst.getByLabel("Resources matching").fill("*");
  await analyst.getByLabel("Why").fill("test buckets of this run");
  await analyst.getByRole("button", { name: "Ask for approval" }).click();
  await expect(analyst.getByRole("alert")).toContainText("resource");
  await analyst.getByLabel("Resources matching").fill(`*sage-${tag}-*`);
  await analyst.getByRole("button", { name: "Ask for approval" }).click();
  await expect(analyst.getByRole("status")).toContainText("second person");
  await analyst.goto("/findings/acceptances?status=requested");
  const pattern = analyst.locator("tr[data-status=requested]").filter({ hasText: "test buckets of this run" });
  await expect(pattern).toContainText("check unencrypted");
  await expect(pattern).toContainText(`resources: *sage-${tag}-*`);

  for (const watched of seen) expect(watched.problems).toEqual([]);
});

async function expectChanges(page: Page, totals: Record<string, number>) {
  for (const [change, total] of Object.entries(totals)) {
    await expect(page.locator(`[data-change="${change}"] [data-total]`)).toHaveAttribute("data-total", String(total));
  }
}
