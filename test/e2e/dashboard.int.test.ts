// The web dashboard in a real browser (Debian's chromium through playwright-core) against the
// real api, store, collector and watcher, with real containers on the test dockerd: signing
// in, the overview updating live, a container's charts (pids too) with an OOM marker, restarts
// counted on the overview, inspect live from the runtime and the stored record when the host is
// offline, logs followed, an alert set by an admin firing, deep links, and no browser errors on
// any page. Every view is photographed in light and dark into test-results/dashboard-screenshots/.
import { createSubjects } from "@crowsnest/shared";
import { jetstream } from "@nats-io/jetstream";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams, inventoryContainerFixture, publishInventory } from "../support/bus-fixtures.ts";
import {
  buildDashboard,
  launchBrowser,
  openPage,
  screenshot,
  type WatchedPage,
} from "../support/dashboard-browser.ts";
import { startWorkload, testDocker, type Workload } from "../support/docker-workloads.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
  uniqueSuffix,
} from "../support/test-env.ts";

const MiB = 1024 * 1024;
const WAIT_MS = 60_000;
/** A test waits for several things in turn, each up to WAIT_MS on a loaded machine. */
const TEST_TIMEOUT_MS = 240_000;

describe("dashboard in a browser", () => {
  const prefix = testSubjectPrefix();
  const host = `dash-${uniqueSuffix()}`;
  const readToken = `dash-read-${uniqueSuffix()}`;
  const adminToken = `dash-admin-${uniqueSuffix()}`;
  const docker = testDocker();
  const workloads: Workload[] = [];
  let database: TestDatabase;
  let stack: ServiceStack | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let base: string;
  let busy: Workload;
  const pages: WatchedPage[] = [];

  const containerId = async (name: string, onHost = host): Promise<number> =>
    eventually(
      async () => {
        const response = await fetch(`${base}/api/v1/containers?host=${onHost}&name=${name}`, {
          headers: { Authorization: `Bearer ${readToken}` },
        });
        const body = (await response.json()) as { data: { id: number; name: string }[] };
        return body.data.find((c) => c.name === name)?.id;
      },
      { timeoutMs: WAIT_MS, what: `${name} listed by the api` },
    );

  // One page open at a time: a browser opens at most six HTTP/1.1 connections to one host, and
  // every open page holds one or two of them for its live streams.
  const newPage = async (): Promise<Page> => {
    await pages.at(-1)?.page.close();
    const watched = await openPage(context);
    pages.push(watched);
    return watched.page;
  };

  beforeAll(async () => {
    buildDashboard();
    // Before the watcher starts, so its first inventory carries the container's labels.
    busy = await startWorkload(docker, {
      namePrefix: "dash-busy",
      script: "trap 'exit 0' TERM; while :; do :; done",
      labels: { "com.docker.compose.project": "shop", "com.docker.compose.service": "worker" },
    });
    workloads.push(busy);
    database = await createTestDatabase();
    stack = await startServiceStack({
      services: ["store", "api", "collector", "watcher"],
      common: {
        CROWSNEST_NATS_URL: natsUrl(),
        CROWSNEST_SUBJECT_PREFIX: prefix,
        CROWSNEST_HOST_NAME: host,
        CROWSNEST_DATABASE_URL: database.url,
      },
      env: {
        store: { CROWSNEST_INGEST_BATCH_WAIT_MS: "100" },
        api: { CROWSNEST_API_READ_TOKENS: readToken, CROWSNEST_API_ADMIN_TOKENS: adminToken },
        collector: { CROWSNEST_COLLECT_INTERVAL_MS: "2000" },
      },
    });
    base = stack.apiBase;
    browser = await launchBrowser();
    context = await browser.newContext({ baseURL: base, viewport: { width: 1400, height: 900 } });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await Promise.all(workloads.map((workload) => workload.remove()));
    await stack?.stop();
    const nc = await connectTestNats();
    await deleteTestStreams(nc, prefix);
    await nc.close();
    await database?.drop();
  }, TEST_TIMEOUT_MS);

  it(
    "asks for a token, refuses a wrong one, and signs in with an admin token",
    async () => {
      // Not among `pages`: the browser reports the refused sign-in's 401 as a console error.
      const { page, errors } = await openPage(context);
      await page.goto("/");
      await page.waitForURL(/\/sign-in\?next=%2F$/);
      await screenshot(page, "sign-in");
      await page.getByLabel("API token").fill("not-a-valid-token-at-all");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("That token is not valid").waitFor();
      await page.getByLabel("API token").fill(adminToken);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${base}/`);
      await page.getByRole("heading", { name: "Hosts" }).waitFor();
      expect(await page.locator(".who .badge").textContent()).toBe("admin");
      const cookies = await context.cookies();
      expect(cookies.find((cookie) => cookie.name === "crowsnest_session")).toMatchObject({
        httpOnly: true,
        sameSite: "Strict",
      });
      expect(errors).toEqual([expect.stringContaining("status of 401")]);
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "lists the busy container on the overview, its CPU cell updating live",
    async () => {
      const page = await newPage();
      await page.goto("/");
      const cpu = page.locator(`tr[data-container="${busy.name}"] td.cpu`);
      await cpu.waitFor({ timeout: WAIT_MS });
      // The first live sample fills the cell, a later one changes it, without a reload.
      await expect.poll(() => cpu.textContent(), { timeout: WAIT_MS }).toMatch(/%$/);
      const first = await cpu.textContent();
      await expect.poll(() => cpu.textContent(), { timeout: WAIT_MS }).not.toBe(first);
      await page.locator(`.host-card >> text=${host}`).waitFor();
      await screenshot(page, "overview");
      // Grouped by compose project, the busy container sits under "shop".
      await page.getByLabel("Group by").selectOption("project");
      await page.locator("tr.group-row", { hasText: "shop" }).waitFor();
      await screenshot(page, "overview-grouped");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "draws a container's chart with points and an OOM marker after an OOM kill",
    async () => {
      const oom = await startWorkload(docker, {
        namePrefix: "dash-oom",
        // Sampled for a few seconds, then fills memory past its limit (/dev/shm counts against it).
        script: "sleep 6; exec dd if=/dev/zero of=/dev/shm/fill bs=1M count=256",
        hostConfig: { Memory: 32 * MiB, MemorySwap: 32 * MiB, ShmSize: 512 * MiB },
      });
      workloads.push(oom);
      const id = await containerId(oom.name);
      await eventually(
        async () => {
          const response = await fetch(`${base}/api/v1/containers/${id}/events?action=die`, {
            headers: { Authorization: `Bearer ${readToken}` },
          });
          return ((await response.json()) as { data: { oom_killed: boolean | null }[] }).data.find(
            (e) => e.oom_killed,
          );
        },
        { timeoutMs: WAIT_MS, what: "the OOM kill stored" },
      );
      const page = await newPage();
      await page.goto(`/containers/${id}`);
      const cpuChart = page.locator("figure.chart", { hasText: "CPU" });
      await expect
        .poll(async () => Number(await cpuChart.getAttribute("data-points")), { timeout: WAIT_MS })
        .toBeGreaterThan(0);
      expect(await cpuChart.getAttribute("data-markers")).toMatch(/OOM kill, exit 137/);
      expect(await cpuChart.locator("canvas").count()).toBeGreaterThan(0);
      // Its processes (sh, then dd) are charted too.
      const pidsChart = page.locator("figure.chart", { hasText: "Processes (pids)" });
      expect(Number(await pidsChart.getAttribute("data-values"))).toBeGreaterThan(0);
      expect(await pidsChart.locator("canvas").count()).toBeGreaterThan(0);
      await page.locator("table.events", { hasText: "killed for running out of memory" }).waitFor();
      await screenshot(page, "container-oom");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "counts a container's restarts on the overview",
    async () => {
      // Fails after a second; its restart policy starts it again twice, then gives up.
      const flaky = await startWorkload(docker, {
        namePrefix: "dash-flaky",
        script: "sleep 1; exit 3",
        hostConfig: { RestartPolicy: { Name: "on-failure", MaximumRetryCount: 2 } },
      });
      workloads.push(flaky);
      const id = await containerId(flaky.name);
      await eventually(
        async () => {
          const response = await fetch(`${base}/api/v1/containers/${id}`, {
            headers: { Authorization: `Bearer ${readToken}` },
          });
          const body = (await response.json()) as { restarts: { count: number } };
          return body.restarts.count === 2 ? true : undefined;
        },
        { timeoutMs: WAIT_MS, what: "two restarts counted by the api" },
      );
      const page = await newPage();
      await page.goto(`/?name=${flaky.name}`);
      const cell = page.locator(`tr[data-container="${flaky.name}"] td.restarts`);
      await expect.poll(() => cell.textContent(), { timeout: WAIT_MS }).toBe("2");
      expect(await page.locator("th", { hasText: "Restarts, 24 h" }).count()).toBe(1);
      await screenshot(page, "overview-restarts");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "inspects a container live from its runtime, and shows the stored record, labelled, when its host is offline",
    async () => {
      const id = await containerId(busy.name);
      const page = await newPage();
      await page.goto(`/containers/${id}`);
      await page.locator("details.inspect summary").click();
      await page.getByText(`Live from the runtime (docker) on ${host}`).waitFor({ timeout: WAIT_MS });
      const live = JSON.parse((await page.locator('pre[data-source="runtime"]').textContent()) ?? "{}") as {
        external_id: string;
        state: string;
        pid: number | null;
        restart_count: number | null;
      };
      expect(live).toMatchObject({ external_id: busy.id, state: "running", restart_count: 0 });
      expect(live.pid).toBeGreaterThan(0);
      await screenshot(page, "container-inspect");

      // A host whose watcher reported once and went away: nothing answers its inspect requests.
      const offlineHost = `${host}-offline`;
      const ghost = { external_id: "f".repeat(64), name: `ghost-${uniqueSuffix()}` };
      const nc = await connectTestNats();
      try {
        await publishInventory(jetstream(nc), createSubjects(prefix), {
          v: 1,
          host: offlineHost,
          runtime: "docker",
          ts: new Date().toISOString(),
          reason: "startup",
          snapshot_id: `ghost-${uniqueSuffix()}`,
          part: 1,
          parts: 1,
          containers: [inventoryContainerFixture(ghost)],
        });
      } finally {
        await nc.close();
      }
      const ghostId = await containerId(ghost.name, offlineHost);
      // Not among `pages`: the browser reports the api's 503s (logs, inspect) as console errors.
      await page.close();
      const offline = await openPage(context);
      try {
        await offline.page.goto(`/containers/${ghostId}`);
        await offline.page.locator("details.inspect summary").click();
        // Whatever the inspection ended in, so that a failure says what the page showed.
        const outcome = offline.page.locator("details.inspect p.inspect-source");
        await outcome.waitFor({ timeout: WAIT_MS }).catch(async (error: unknown) => {
          const shown = await offline.page.locator("details.inspect").textContent();
          throw new Error(`no inspection outcome; the inspect section shows: ${shown}`, { cause: error });
        });
        expect(await outcome.textContent()).toContain(
          `The watcher of ${offlineHost} is not answering (is the host offline?)`,
        );
        await offline.page.getByText("showing the stored record instead").waitFor();
        const stored = JSON.parse(
          (await offline.page.locator('pre[data-source="stored"]').textContent()) ?? "{}",
        ) as { name: string; host: string };
        expect(stored).toMatchObject({ name: ghost.name, host: offlineHost });
        await screenshot(offline.page, "container-inspect-offline");
        expect(offline.errors.some((error) => error.includes("/inspect"))).toBe(true);
        expect(offline.errors.filter((error) => !error.includes("status of 503"))).toEqual([]);
      } finally {
        await offline.page.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "follows the logs and shows a line printed after they opened",
    async () => {
      const talker = await startWorkload(docker, {
        namePrefix: "dash-logs",
        script: "echo started; sleep 3600",
      });
      workloads.push(talker);
      const id = await containerId(talker.name);
      const page = await newPage();
      await page.goto(`/containers/${id}?follow=1`);
      await page.getByText("● following").waitFor({ timeout: WAIT_MS });
      await page.locator(".log-line", { hasText: "started" }).waitFor();
      const marker = `printed-after-open-${uniqueSuffix()}`;
      const exec = await talker.container.exec({ Cmd: ["sh", "-c", `echo ${marker} >/proc/1/fd/1`] });
      await exec.start({ Detach: true });
      await page.locator(".log-line", { hasText: marker }).waitFor({ timeout: WAIT_MS });
      await page.getByLabel("Search").fill("printed");
      await expect.poll(() => page.locator(".log-line mark").count()).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "lets an admin set a CPU threshold; the busy container fires and the alerts view shows it",
    async () => {
      const id = await containerId(busy.name);
      const page = await newPage();
      await page.goto(`/containers/${id}`);
      await page.getByText("Source: none").waitFor({ timeout: WAIT_MS });
      expect(await page.getByLabel("Alerting enabled").isChecked()).toBe(true);
      await page.getByLabel("CPU threshold (%, empty: none)").fill("1");
      await page.getByLabel("Consecutive samples over the threshold before it fires").fill("1");
      await page.getByRole("button", { name: "Save for this container" }).click();
      await page.getByText("Source: this container's own settings.").waitFor();
      await screenshot(page, "container");

      await page.goto("/alerts");
      const firing = page.locator("table.firing tr", { hasText: busy.name });
      await expect
        .poll(
          async () => {
            if ((await firing.count()) > 0) return true;
            await page.reload();
            await page.getByRole("heading", { name: "Firing now" }).waitFor();
            return (await firing.count()) > 0;
          },
          { timeout: WAIT_MS, interval: 2000 },
        )
        .toBe(true);
      expect(await firing.first().textContent()).toContain("cpu");
      await screenshot(page, "alerts");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "keeps a view's state in the URL across a reload and the back button",
    async () => {
      const id = await containerId(busy.name);
      const page = await newPage();
      await page.goto(`/containers/${id}?range=6h&logs=stderr`);
      await page.getByRole("button", { name: "6h" }).waitFor();
      await page.reload();
      expect(await page.getByRole("button", { name: "6h" }).getAttribute("aria-pressed")).toBe("true");
      expect(await page.getByLabel("Stream").inputValue()).toBe("stderr");
      await page.getByRole("button", { name: "24h" }).click();
      await page.waitForURL(/range=24h/);
      await page.goBack();
      await page.waitForURL(/range=6h/);
      expect(await page.getByRole("button", { name: "6h" }).getAttribute("aria-pressed")).toBe("true");

      await page.goto(`/?name=${busy.name}&sort=cpu&dir=desc`);
      await page.locator(`tr[data-container="${busy.name}"]`).waitFor({ timeout: WAIT_MS });
      await page.reload();
      expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe(busy.name);
      expect(await page.locator("th[aria-sort=descending]").textContent()).toBe("CPU");
      expect(await page.locator("tbody tr[data-container]").count()).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "shows the top, events and agents views",
    async () => {
      const page = await newPage();
      await page.goto("/top?metric=cpu");
      await page.locator("td", { hasText: busy.name }).first().waitFor({ timeout: WAIT_MS });
      await screenshot(page, "top");
      await page.goto("/events");
      await page.locator("table.events td", { hasText: "start" }).first().waitFor({ timeout: WAIT_MS });
      await screenshot(page, "events", { fullPage: false });
      await page.goto("/agents");
      await page.locator("td", { hasText: "collector" }).first().waitFor({ timeout: WAIT_MS });
      await screenshot(page, "agents");
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "refuses a read-only session's writes and shows the settings read-only",
    async () => {
      const readContext = await browser.newContext({ baseURL: base });
      try {
        const watched = await openPage(readContext);
        const page = watched.page;
        await page.goto("/sign-in");
        await page.getByLabel("API token").fill(readToken);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("heading", { name: "Hosts" }).waitFor();
        const id = await containerId(busy.name);
        await page.goto(`/containers/${id}`);
        await page.getByText("Read-only: sign in with an admin token").waitFor({ timeout: WAIT_MS });
        const status = await page.evaluate(async (path) => {
          const response = await fetch(path, {
            method: "PUT",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ cpu_threshold: 50 }),
          });
          return response.status;
        }, `/api/v1/containers/${id}/alerts/config`);
        expect(status).toBe(403);
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.waitForURL(/\/sign-in/);
      } finally {
        await readContext.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it("had no browser errors on any page", () => {
    expect(pages.flatMap((watched) => watched.errors)).toEqual([]);
  });
});
