// The organisation's accounts and a scan across them, in the browser over the real
// stack: an admin adds accounts and edits one (each change a version), imports an
// emulated organisation, then scans the accounts tagged env=prod with Cloud Custodian;
// the scan page follows it to its end, names the account that was refused and why,
// and asks for one report over it.

import { expect, test } from "@playwright/test";

import { ADMIN, env, signInAsDemo, watch } from "./helpers";

test("accounts kept and imported, then scanned with their progress and failures", async ({ page }) => {
  const [first, second, nowhere] = env("SAGE_ACCOUNTS").split(",") as [string, string, string];
  const management = env("SAGE_MANAGEMENT");
  const tag = env("SAGE_TAG");
  const seen = watch(page);
  await signInAsDemo(page, ADMIN);
  await page.getByRole("link", { name: "Accounts" }).click();
  await expect(page.getByRole("heading", { name: "Cloud accounts" })).toBeVisible();

  // Three accounts tagged env=prod; the last has no regions.
  const added: [id: string, regions: string][] = [
    [first, "us-east-1"],
    [second, "us-east-1"],
    [nowhere, ""],
  ];
  for (const [id, regions] of added) {
    await page.getByLabel("Account id").fill(id);
    await page.getByLabel("Name", { exact: true }).fill(`prod ${id.slice(-4)}`);
    await page.getByLabel("External id").fill(`ext-${id}`);
    await page.getByLabel("Regions").first().fill(regions);
    await page.getByLabel("Tags (key=value, one per line)").fill(`env=prod\ntest=${tag}`);
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.locator(`tr[data-account="${id}"]`)).toContainText(
      `arn:aws:iam::${id}:role/OrganizationAccountAccessRole`,
    );
  }
  // A bad id is refused by name.
  await page.getByLabel("Account id").fill("12345");
  await page.getByLabel("Name", { exact: true }).fill("short");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert")).toContainText("12-digit");

  // An edit makes a version; the external id is never shown back.
  await page.locator(`tr[data-account="${first}"]`).getByRole("link").click();
  await page.getByLabel("Name", { exact: true }).fill("prod renamed");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("account-version")).toHaveText("2");
  await expect(page.locator("table tbody tr")).toHaveCount(2);
  await expect(page.locator("main")).toContainText("set (never shown)");
  await expect(page.locator("main")).not.toContainText(`ext-${first}`);

  // The emulated organisation, imported through a worker.
  await page.getByRole("link", { name: "Accounts" }).click();
  await page.getByLabel("Role in the management account (ARN)").fill(`arn:aws:iam::${management}:role/OrgReader`);
  await page.getByLabel("Regions").last().fill("us-east-1");
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page.locator("[data-import-status]")).toHaveAttribute("data-import-status", "succeeded", {
    timeout: 30_000,
  });
  await expect(page.locator("[data-import-status]")).toContainText("3 found, 3 added");
  await expect(page.locator(`tr[data-account="${management}"]`)).toContainText("AWS Organizations (ACTIVE)");

  // A scan of the env=prod accounts, followed to its end.
  await page.getByRole("link", { name: "Scans" }).click();
  await page.getByLabel("Tags every account holds (key=value)").fill(`env=prod,test=${tag}`);
  await page
    .getByLabel("The tool's options (JSON)")
    .fill(JSON.stringify({ policy: "policies:\n  - name: any-bucket\n    resource: aws.s3\n" }));
  await page.getByLabel("Runs at once").fill("2");
  await page.getByRole("button", { name: "Start the scan" }).click();
  await expect(page.locator("[data-scan-status]")).toHaveAttribute("data-scan-status", "failed", {
    timeout: 90_000,
  });
  await expect(page.getByTestId("scan-done").first()).toContainText("3 of 3 done: 2 succeeded, 1 failed");
  const refused = page.locator(`tr[data-target="${nowhere}"]`).first();
  await expect(refused).toContainText("Refused");
  await expect(refused).toContainText("no regions");
  await expect(page.locator(`tr[data-target="${first}"][data-status="succeeded"]`)).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Cancel the scan" })).toHaveCount(0);
  await page.getByRole("button", { name: "Evidence report over this scan" }).click();
  await expect(page.getByRole("status")).toContainText("Report requested");

  // Listed among the scans.
  await page.getByRole("link", { name: "Scans" }).click();
  await expect(page.locator("tr[data-scan]").first()).toContainText("Finished with failures");

  // A weekday schedule of a Custodian run in Seoul time: a bad cron is refused by name;
  // the next five fires shown, paused, resumed, deleted.
  await page.getByRole("link", { name: "Schedules" }).click();
  await page.getByLabel("Name").fill("weekday buckets");
  const custodian = await page.locator("#schedule-module option", { hasText: /custodian/i }).getAttribute("value");
  await page.getByLabel("Module", { exact: true }).selectOption(custodian ?? "");
  await page.getByLabel("Parameters (JSON)").fill(
    JSON.stringify({
      provider: "aws",
      region: "us-east-1",
      iam_role_arn: `arn:aws:iam::${first}:role/OrganizationAccountAccessRole`,
      policy: "policies:\n  - name: any-bucket\n    resource: aws.s3\n",
    }),
  );
  await page.getByLabel("Time zone").fill("Asia/Seoul");
  await page.getByLabel("Cron (minute hour day month weekday)").fill("61 9 * * 1-5");
  await page.getByRole("button", { name: "Create the schedule" }).click();
  await expect(page.getByRole("alert")).toContainText("cron");
  await page.getByLabel("Cron (minute hour day month weekday)").fill("0 9 * * 1-5");
  await page.getByRole("button", { name: "Create the schedule" }).click();
  await expect(page.getByRole("heading", { name: "weekday buckets" })).toBeVisible();
  await expect(page.getByTestId("next-fires").locator("li")).toHaveCount(5);
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.getByTestId("paused")).toBeVisible();
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(page.getByTestId("next-fires").locator("li")).toHaveCount(5);
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page.locator("main")).toContainText("No schedule yet.");

  // The scan above as a weekly schedule: a bad cron and no accounts refused by name
  // (the scan's under scan.), then the scan's tool and accounts shown, listed as a scan.
  await page.getByLabel("Name").fill("weekly prod scan");
  await page.getByLabel("Scan", { exact: true }).check();
  await page.getByLabel("Tool", { exact: true }).selectOption("custodian");
  await page
    .getByLabel("The tool's options (JSON)")
    .fill(JSON.stringify({ policy: "policies:\n  - name: any-bucket\n    resource: aws.s3\n" }));
  await page.getByLabel("Runs at once").fill("2");
  await page.getByLabel("Time zone").fill("Asia/Seoul");
  await page.getByLabel("Cron (minute hour day month weekday)").fill("61 9 * * 1");
  await page.getByRole("button", { name: "Create the schedule" }).click();
  await expect(page.getByRole("alert")).toContainText("cron");
  await expect(page.getByRole("alert")).toContainText("scan.account_tags");
  await page.getByLabel("Tags every account holds (key=value)").fill(`env=prod,test=${tag}`);
  await page.getByLabel("Cron (minute hour day month weekday)").fill("0 9 * * 1");
  await page.getByRole("button", { name: "Create the schedule" }).click();
  await expect(page.getByRole("heading", { name: "weekly prod scan" })).toBeVisible();
  await expect(page.getByTestId("schedule-kind")).toHaveText("Scan");
  await expect(page.getByTestId("scan-tool")).toHaveText("Cloud Custodian");
  await expect(page.getByTestId("scan-selection")).toContainText(`env=prod, test=${tag}`);
  await expect(page.getByTestId("next-fires").locator("li")).toHaveCount(5);
  await page.getByRole("link", { name: "Schedules" }).click();
  const listed = page.locator("tr[data-schedule]", { hasText: "weekly prod scan" });
  await expect(listed).toHaveAttribute("data-kind", "scan");
  await expect(listed.locator("td").nth(1)).toHaveText("Scan");
  await listed.getByRole("link").click();
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page.locator("main")).toContainText("No schedule yet.");

  // The Custodian module's retention: a number out of range refused beside the field,
  // 30 days kept and listed, then the deployment's default again.
  await page.getByRole("link", { name: "Manage modules" }).click();
  const custodianRow = page.locator("tr[data-module]", { hasText: /custodian/i }).first();
  await custodianRow.getByRole("link").click();
  await expect(page.getByTestId("retention")).toContainText("(the deployment's default)");
  await page.getByLabel("Days to keep (1 to 36500)").fill("0");
  await page.getByRole("button", { name: "Set retention" }).click();
  await expect(page.locator("#retention-days-error")).toContainText("must be 1 to 36500");
  await page.getByLabel("Days to keep (1 to 36500)").fill("30");
  await page.getByRole("button", { name: "Set retention" }).click();
  await expect(page.getByTestId("retention")).toHaveText(
    "Keeps logs, artifacts and finding history for 30 days (the module's own).",
  );
  await page.getByRole("link", { name: "Manage modules" }).click();
  await expect(custodianRow).toContainText("30 days");
  await custodianRow.getByRole("link").click();
  await page.getByRole("button", { name: "Return to the deployment's default" }).click();
  await expect(page.getByTestId("retention")).toContainText("(the deployment's default)");
  await expect(page.getByLabel("Days to keep (1 to 36500)")).toHaveValue("");
  expect(seen.problems).toEqual([]);
});
