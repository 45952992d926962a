// Notifications in the browser over the real stack, after the accounts' scenario: an
// admin's webhook is refused by field (plain http, a short secret), a Slack channel to
// the Rust test's receiver is added with a rule telling it each scan's end, the rule
// turned off and on again, and a test message followed until it was delivered.

import { expect, test } from "@playwright/test";

import { ADMIN, env, signInAsDemo, watch } from "./helpers";

test("channels refused by field, a Slack channel with a rule, and a test message delivered", async ({ page }) => {
  const slackUrl = env("SAGE_E2E_SLACK_URL");
  const seen = watch(page);
  await signInAsDemo(page, ADMIN);
  await page.getByRole("link", { name: "Notifications" }).click();
  await expect(page.getByRole("heading", { name: "Notifications" })).toBeVisible();

  // Plain http to a host not allowed, and a secret too short: each said beside its input.
  const channelForm = page.getByRole("form", { name: "New channel" });
  await channelForm.getByLabel("Name", { exact: true }).fill("siem");
  await channelForm.getByLabel("Kind").selectOption("webhook");
  await channelForm.getByLabel("URL").fill("http://example.com/hook");
  await channelForm.getByLabel("Signing secret").fill("short");
  await channelForm.getByRole("button", { name: "Add channel" }).click();
  await expect(page.locator("#channel-url-error")).toContainText("must be https");
  await expect(page.locator("#channel-secret-error")).toContainText("at least 16 characters");
  await expect(page.locator("tr[data-channel]")).toHaveCount(0);

  // A Slack channel: its URL is its secret, only its host is shown.
  await channelForm.getByLabel("Kind").selectOption("slack");
  await expect(channelForm.getByLabel("Signing secret")).toHaveCount(0);
  await channelForm.getByLabel("Name", { exact: true }).fill("chat");
  await channelForm.getByLabel("URL").fill(slackUrl);
  await channelForm.getByRole("button", { name: "Add channel" }).click();
  const chat = page.locator("tr[data-channel]", { hasText: "chat" });
  await expect(chat).toContainText(new URL(slackUrl).host);
  await expect(chat).not.toContainText(slackUrl);

  // A rule telling the channel each scan's end; turned off, then on again.
  const ruleForm = page.getByRole("form", { name: "New rule" });
  await ruleForm.getByLabel("Name", { exact: true }).fill("scan ends");
  await ruleForm.getByLabel("Event").selectOption("scan.finished");
  await expect(ruleForm.getByLabel("Tool")).toBeVisible();
  await expect(ruleForm.getByLabel("Module")).toHaveCount(0);
  await ruleForm.getByLabel("Channel").selectOption({ label: "chat" });
  await ruleForm.getByRole("button", { name: "Add rule" }).click();
  const rule = page.locator("tr[data-rule]", { hasText: "scan ends" });
  await expect(rule).toContainText("A scan ended");
  await expect(rule).toContainText("chat");
  const enabled = rule.getByRole("checkbox", { name: "Rule scan ends enabled" });
  await expect(enabled).toBeChecked();
  await enabled.click();
  await expect(enabled).not.toBeChecked();
  await enabled.click();
  await expect(enabled).toBeChecked();

  // A test message, followed until the receiver took it.
  await chat.getByRole("link", { name: "chat" }).click();
  await expect(page.getByRole("heading", { name: "chat", exact: true })).toBeVisible();
  await page.getByRole("button", { name: "Send test message" }).click();
  await expect(page.getByRole("status")).toContainText("Test message queued");
  await expect(page.locator('tr[data-event="test"][data-status="delivered"]')).toHaveCount(1);
  await expect(page.locator('tr[data-event="test"]')).toContainText("Delivered");
  expect(seen.problems).toEqual([]);
});
