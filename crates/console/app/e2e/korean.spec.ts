// Scenario 4: the Korean interface renders every page without an untranslated key.

import { expect, test } from "@playwright/test";

import { ADMIN, env, signInAsDemo, watch } from "./helpers";

// The namespaces of the dictionaries: a key shown as text starts with one of them.
const KEY =
  /\b(app|common|languages|roles|nav|signIn|errors|status|reasons|modules|execution|log|artifacts|runs|approvals|scripts|adminModules|adminModule|assignments|editor|validation|audit|scanners|tools|severity|findingStatus|findingState|findings|trends|diff|evidence|notifications)\.[A-Za-z_]+/;

test("every page in Korean, no untranslated key", async ({ page }) => {
  await page.addInitScript(() => localStorage.setItem("sage.lang", "ko"));
  const seen = watch(page);
  const moduleId = env("SAGE_MODULE_ID");
  const executionId = env("SAGE_EXECUTION_ID");

  await page.goto("/");
  await expect(page.getByRole("heading", { name: "데모 사용자 선택" })).toBeVisible();
  await expectTranslated(page);
  await signInAsDemo(page, ADMIN);

  const pages: [string, string][] = [
    ["/modules", "모듈"],
    [`/modules/${moduleId}`, "실행 파라미터"],
    ["/executions", "전체 실행"],
    [`/executions/${executionId}`, "로그"],
    ["/approvals", "승인함"],
    ["/scanners", "클라우드 스캐너"],
    ["/evidence", "증적 보고서"],
    ["/findings", "발견 항목"],
    ["/findings/trends", "추이"],
    ["/findings/diff", "두 실행 비교"],
    ["/findings/acceptances", "위험 수용"],
    ["/accounts", "클라우드 계정"],
    ["/scans", "새 스캔"],
    ["/schedules", "새 일정"],
    ["/admin/scripts", "스크립트"],
    ["/admin/modules", "모듈 관리"],
    [`/admin/modules/${moduleId}`, "할당"],
    ["/admin/audit", "감사 로그"],
    ["/admin/notifications", "새 채널"],
    ["/no-such-page", "찾을 수 없습니다."],
  ];
  for (const [path, text] of pages) {
    await page.goto(path);
    await expect(page.locator("main")).toContainText(text);
    await expect(page.locator("html")).toHaveAttribute("lang", "ko");
    await expectTranslated(page);
  }

  // States that only appear after an action.
  await page.goto("/admin/audit");
  await page.getByRole("button", { name: "체인 검증" }).click();
  await expect(page.getByTestId("chain-report")).toContainText("체인 정상");
  await page.goto(`/modules/${moduleId}`);
  await page.getByRole("button", { name: "실행", exact: true }).click();
  await expect(page.locator("main")).toContainText("필수 항목입니다");
  await expectTranslated(page);

  // The choice is remembered in this browser.
  await page.reload();
  await expect(page.getByRole("heading", { name: "backup-db" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");

  expect(seen.problems).toEqual([]);
});

async function expectTranslated(page: import("@playwright/test").Page) {
  // Data such as audit action names (`execution.submit`) is shown as code, not text.
  const text = await page.evaluate(() => {
    const copy = document.body.cloneNode(true) as HTMLElement;
    copy.querySelectorAll("code, pre").forEach((node) => node.remove());
    return copy.textContent ?? "";
  });
  expect(text).not.toMatch(KEY);
  const labels = await page
    .locator("[aria-label], [placeholder], [title]")
    .evaluateAll((nodes) =>
      nodes.map((n) =>
        [n.getAttribute("aria-label"), n.getAttribute("placeholder"), n.getAttribute("title")].join(" "),
      ),
    );
  expect(labels.join("\n")).not.toMatch(KEY);
}
