// The watcher as the image runs it: its bundle with the V8 flags docker-compose.yml gives it (which
// include --lite-mode: V8's interpreter only, so no WebAssembly), against the tests' dockerd and
// NATS. Everything its Docker mode does must work without a JIT: dockerode and what it loads, the
// event stream, the inventory, a log request (which also loads the request codec's chunk) and an
// inspect request; and it writes nothing but its JSON lines (no V8 warning about the flags).
import { readFileSync } from "node:fs";
import { codecs, createSubjects } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildAgentBundles } from "./bench/support/service-memory.ts";
import { deleteTestStreams } from "./support/bus-fixtures.ts";
import { startWorkload, testDocker, type Workload } from "./support/docker-workloads.ts";
import { logTexts, requestLogsOverBus } from "./support/logs-rpc.ts";
import { type ServiceProcess, startServiceCommand } from "./support/service-process.ts";
import { connectTestNats, eventually, natsUrl, testSubjectPrefix, uniqueSuffix } from "./support/test-env.ts";

/** The watcher's `node` command in docker-compose.yml: its V8 flags, between `node` and the script. */
function composeWatcherFlags(): string[] {
  const compose = parse(readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8"), {
    merge: true,
  }) as { services: { watcher: { command: string[] } } };
  return compose.services.watcher.command.slice(1, -1);
}

describe("the watcher's bundle with compose's flags, in Docker mode", () => {
  const prefix = testSubjectPrefix();
  const host = `bundle-${uniqueSuffix()}`;
  const subjects = createSubjects(prefix);
  const docker = testDocker();
  let nc: NatsConnection;
  let bundles: Awaited<ReturnType<typeof buildAgentBundles>>;
  let watcher: ServiceProcess | undefined;
  let workload: Workload | undefined;

  beforeAll(async () => {
    nc = await connectTestNats();
    bundles = await buildAgentBundles();
  });

  afterAll(async () => {
    await workload?.remove();
    await watcher?.kill();
    await deleteTestStreams(nc, prefix);
    await nc.close();
    bundles.cleanup();
  });

  it("follows events, publishes its inventory and answers log and inspect requests", async () => {
    const flags = composeWatcherFlags();
    expect(flags).toContain("--lite-mode");
    const starts: string[] = [];
    const inventories: unknown[] = [];
    nc.subscribe(subjects.event(host, "docker", "container", "start"), {
      callback: (error, message) => {
        const decoded = error === null ? codecs.event.decode(message.data) : undefined;
        if (decoded?.ok) starts.push(decoded.value.actor.name);
      },
    });
    nc.subscribe(subjects.inventory(host, "docker"), {
      callback: (error, message) => {
        if (error === null) inventories.push(message.data);
      },
    });
    await nc.flush();
    const started = startServiceCommand(
      "watcher",
      { cwd: bundles.dir, args: [...flags, bundles.entry("watcher")] },
      { CROWSNEST_NATS_URL: natsUrl(), CROWSNEST_SUBJECT_PREFIX: prefix, CROWSNEST_HOST_NAME: host },
    );
    watcher = started;
    await eventually(() => (inventories.length > 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: "the watcher's first inventory",
    });

    workload = await startWorkload(docker, {
      namePrefix: "bundle-logs",
      script: "echo one; echo two; sleep 3600",
    });
    const { name } = workload;
    await eventually(() => (starts.includes(name) ? true : undefined), {
      timeoutMs: 20_000,
      what: "the workload's start event",
    });
    const lines = await eventually(
      async () => {
        const replies = await requestLogsOverBus(
          nc,
          subjects.rpc(host, "logs"),
          { container: name },
          { timeoutMs: 10_000 },
        );
        const texts = logTexts(replies);
        return texts.length === 2 ? texts : undefined;
      },
      { timeoutMs: 20_000, what: "both log lines" },
    );
    expect(lines).toEqual(["one", "two"]);
    const inspect = await nc.request(
      subjects.rpc(host, "inspect"),
      JSON.stringify({ v: 1, container: name }),
      {
        timeout: 10_000,
      },
    );
    expect(inspect.json()).toMatchObject({ ok: true });

    expect(await started.stop()).toBe(0);
    expect(started.otherOutput).toEqual([]);
    expect(started.logs.filter((record) => record.level === "error" || record.level === "fatal")).toEqual([]);
  });
});
