// The dashboard's end-to-end tests drive Debian's chromium (installed by
// test/infra/prepare-machine.sh) through playwright-core, which downloads no browser of its own.
// Every page records what the browser reports as an error (console errors, uncaught exceptions,
// failed requests to the api), so a test can assert that a page had none.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const CHROMIUM_PATH = process.env.CROWSNEST_TEST_CHROMIUM ?? "/usr/bin/chromium";
/** Where the tests write a screenshot of every view, light and dark (the README names it). */
export const SCREENSHOT_DIR = `${repoRoot}test-results/dashboard-screenshots`;

/** Builds packages/dashboard, so the api serves the dashboard of this checkout. */
export function buildDashboard(): void {
  const result = spawnSync(process.execPath, ["packages/dashboard/build.ts"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  if (result.status !== 0)
    throw new Error(`building the dashboard failed:\n${result.stdout}\n${result.stderr}`);
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // As root (the test machine) chromium refuses to start with its sandbox on.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

export interface WatchedPage {
  page: Page;
  /** Everything the browser reported as an error since the page opened. */
  errors: string[];
}

export async function openPage(context: BrowserContext): Promise<WatchedPage> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().includes("ERR_NETWORK_CHANGED")) {
      errors.push(`console: ${message.text()} (${message.location().url})`);
    }
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) => {
    // Streams the page closes on navigation end as "aborted": that is the page leaving, not an
    // error. Chromium also drops open connections when the machine's interfaces change (dockerd
    // adding a container's veth): the page reconnects, and that is no error of the dashboard.
    const failure = request.failure()?.errorText ?? "";
    if (!/ERR_ABORTED|ERR_NETWORK_CHANGED/.test(failure))
      errors.push(`request failed: ${request.url()} ${failure}`);
  });
  return { page, errors };
}

/** `fullPage: false` for views as long as their data (the events feed): the first screen shows them. */
export async function screenshot(
  page: Page,
  name: string,
  options: { fullPage?: boolean } = {},
): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    // The charts rebuild with the scheme's colours on its change event: two frames later they are painted.
    await page.evaluate(
      "new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))",
    );
    await page.screenshot({
      path: `${SCREENSHOT_DIR}/${name}-${scheme}.png`,
      fullPage: options.fullPage ?? true,
    });
  }
  await page.emulateMedia({ colorScheme: "light" });
}
