// Scenario 2: a run of a module needing approval waits; the admin approves it from the
// inbox; the analyst's page follows it to succeeded without a reload.

import { expect, test } from "@playwright/test";

import { ADMIN, ANALYST, env, signInAsDemo, statusOf, watch } from "./helpers";

test("the admin approves from the inbox and the analyst's page follows", async ({ browser }) => {
  const analyst = await (await browser.newContext()).newPage();
  const admin = await (await browser.newContext()).newPage();
  const analystSeen = watch(analyst);
  const adminSeen = watch(admin);

  await signInAsDemo(analyst, ANALYST);
  await analyst.getByRole("link", { name: "backup-db-approved" }).click();
  await expect(analyst.getByText("Needs 1 approval")).toBeVisible();
  await analyst.getByLabel("db_name").selectOption("users");
  await analyst.getByLabel("backup_key").fill(env("SAGE_SECRET"));
  await analyst.getByRole("button", { name: "Run", exact: true }).click();
  await expect(statusOf(analyst)).toHaveAttribute("data-status", "awaiting_approval");
  // The requester cannot approve their own run.
  await expect(analyst.getByRole("button", { name: "Approve" })).toHaveCount(0);
  const runUrl = analyst.url();

  await signInAsDemo(admin, ADMIN);
  await admin.getByRole("link", { name: "Approvals" }).click();
  const card = admin.getByTestId("approval-card").filter({ hasText: "backup-db-approved" });
  await expect(card).toContainText(`Requested by ${ANALYST}`);
  await expect(card.getByRole("row", { name: /db_name/ })).toContainText("users");
  await expect(card.getByRole("row", { name: /backup_key/ })).toContainText("***");
  await card.getByLabel("Comment").fill("ok for the users db");
  await card.getByRole("button", { name: "Approve" }).click();
  await expect(admin.getByText("Nothing is waiting for you.")).toBeVisible();

  // No reload: the analyst's page polls and streams its way to the end.
  await expect(statusOf(analyst)).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  expect(analyst.url()).toBe(runUrl);
  await expect(analyst.getByText(/Approved: admin@example\.com/)).toBeVisible();
  await expect(analyst.getByText("ok for the users db")).toBeVisible();
  await expect(analyst.getByText("backup of users complete")).toBeVisible();

  expect(analystSeen.problems).toEqual([]);
  expect(adminSeen.problems).toEqual([]);
});
