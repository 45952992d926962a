// Scenario 5: a run printing 200,000 lines. The log view keeps up while it follows,
// a reload in the middle of the run loses and doubles nothing, and the test records
// how long after the run's end its last line shows.

import { expect, test } from "@playwright/test";

import { ANALYST, env, signInAsDemo, statusOf, watch } from "./helpers";

const LINES = 200_000;

test("200,000 lines: responsive while following, exact after a reload mid-run", async ({ page }) => {
  const seen = watch(page);
  // The longest task the page's main thread ran: what a user would feel as a freeze.
  await page.addInitScript(() => {
    const w = window as unknown as { longestTask: number };
    w.longestTask = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.longestTask = Math.max(w.longestTask, entry.duration);
    }).observe({ type: "longtask", buffered: true });
  });
  await signInAsDemo(page, ANALYST);
  // Submitted once the browser is up, however long it took to start: the page opens
  // while the run prints.
  const submitted = await page.request.post(`/api/v1/modules/${env("SAGE_MODULE_ID")}/executions`, {
    headers: { "X-Demo-User": ANALYST },
    data: { params: {} },
  });
  expect(submitted.status()).toBe(202);
  const { id } = (await submitted.json()) as { id: string };
  await page.goto(`/executions/${id}`);

  const count = page.getByTestId("log-count");
  await expect
    .poll(async () => Number(await count.getAttribute("data-lines")), { timeout: 120_000 })
    .toBeGreaterThan(20_000);
  // The page answers input while lines pour in: a search finds its line.
  await page.getByLabel("Search the log").fill("line 000777");
  await expect(page.getByTestId("log-matches")).toHaveAttribute("data-matches", "1");
  await page.getByLabel("Search the log").fill("");
  const beforeReload = Number(await count.getAttribute("data-lines"));
  const longestWhileFollowing = await page.evaluate(() => (window as unknown as { longestTask: number }).longestTask);
  expect(await statusOf(page).getAttribute("data-status")).toBe("running");

  await page.reload();
  await expect(statusOf(page)).toHaveAttribute("data-status", "succeeded", { timeout: 120_000 });
  await expect(count).toHaveAttribute("data-lines", String(LINES), { timeout: 120_000 });
  const shownAt = Date.now();
  const run = (await (
    await page.request.get(`/api/v1/executions/${id}`, { headers: { "X-Demo-User": ANALYST } })
  ).json()) as {
    started_at: string;
    finished_at: string;
  };

  // Following: the newest line is on screen.
  await expect(page.locator(`[data-seq="${LINES}"]`)).toBeVisible();
  // Every line once: as many matches as lines, each numbered line found exactly once.
  await page.getByLabel("Search the log").fill("line ");
  await expect(page.getByTestId("log-matches")).toHaveAttribute("data-matches", String(LINES));
  for (const n of [1, 19_999, 20_000, 20_001, beforeReload, beforeReload + 1, 123_457, LINES]) {
    await page.getByLabel("Search the log").fill(`line ${String(n).padStart(6, "0")}`);
    await expect(page.getByTestId("log-matches"), `line ${n}`).toHaveAttribute("data-matches", "1");
  }
  // stderr lines are marked as such, not by colour alone.
  await page.getByLabel("Search the log").fill("line 001000");
  await page.getByRole("button", { name: "Next match" }).click();
  await expect(page.locator(".log-row.current-match .stream")).toHaveText("ERR");
  await expect(page.locator(".log-row.current-match")).toHaveClass(/stderr/);

  const runSeconds = (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000;
  const lagSeconds = (shownAt - Date.parse(run.finished_at)) / 1000;
  console.log(
    `biglog: ${LINES} lines, run ${runSeconds.toFixed(1)} s; last line shown ${lagSeconds.toFixed(2)} s after the run ended; ` +
      `reloaded at ${beforeReload} lines; longest main-thread task while following ${Math.round(longestWhileFollowing)} ms`,
  );
  expect(seen.problems).toEqual([]);
});
