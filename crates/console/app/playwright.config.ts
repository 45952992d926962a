import { defineConfig } from "@playwright/test";

// The browser tests run against an api and a worker that the Rust test driving them
// started (crates/api/tests/api/console.rs) on a fresh database; SAGE_URL says where.
// Chromium is Debian's, started with the flags these machines need.
export default defineConfig({
  testDir: "e2e",
  timeout: 180_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: process.env.SAGE_E2E_OUT ?? "test-results",
  use: {
    baseURL: process.env.SAGE_URL,
    trace: "off",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Nothing but this machine: a page that names another host (the provider's
        // sign-in page imports a web font) fails without a lookup leaving the machine.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      ],
    },
  },
});
