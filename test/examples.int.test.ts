// The client examples in examples/, run as a user would run them against the real NATS server,
// on messages this test publishes under its own prefix: the Go subscriber prints container
// deaths with their exit codes, the Node durable consumer catches up on what was published while
// it was away, and the `nats sub` subjects of docs/bus-contract.md receive what it says they do.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  type EventMessage,
  ensureStreams,
  streamDefinitions,
} from "@crowsnest/shared";
import { CONTRACT_MESSAGES } from "@crowsnest/shared/contract";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  eventFixture,
  publishEvent,
  publishStats,
  statsFixture,
} from "./support/bus-fixtures.ts";
import { testTime } from "./support/test-clock.ts";
import { connectTestNats, eventually, natsUrl, testSubjectPrefix, uniqueSuffix } from "./support/test-env.ts";

const run = promisify(execFile);
/** Distinct times per message: JetStream would store a republished event id once. */
const at = (second: number) => testTime(`10:00:${String(second).padStart(2, "0")}.000`);
const examplesDir = new URL("../examples/", import.meta.url);
// Debian's packaged Go client (golang-github-nats-io-go-nats-dev), built in GOPATH mode: no
// module proxy needed. test/infra/prepare-machine.sh installs both; CI never skips.
const DEBIAN_GOPATH = "/usr/share/gocode";
const goReady = existsSync(`${DEBIAN_GOPATH}/src/github.com/nats-io/nats.go`);

function death(host: string, name: string, exitCode: number | null, oomKilled: boolean | null, ts: string) {
  return eventFixture({
    host,
    action: "die",
    ts,
    actor: { external_id: `${name}-id`.padEnd(12, "0"), name },
    exit_code: exitCode,
    oom_killed: oomKilled,
  });
}

/** Collects a child's output lines as they arrive. */
function lines(child: ChildProcess, stream: "stdout" | "stderr"): string[] {
  const collected: string[] = [];
  let pending = "";
  child[stream]?.setEncoding("utf8");
  child[stream]?.on("data", (chunk: string) => {
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    collected.push(...parts);
  });
  return collected;
}

describe("client examples against the real NATS server", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const exampleEnv = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    NATS_URL: natsUrl(),
    CROWSNEST_SUBJECT_PREFIX: prefix,
  };
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectTestNats();
    await ensureStreams(
      await jetstreamManager(nc),
      streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
      pino({ level: "silent" }),
    );
  });

  afterAll(async () => {
    if (!nc) return;
    await deleteTestStreams(nc, prefix);
    await nc.close();
  });

  describe.skipIf(!goReady && !process.env.CI)("examples/go-deaths", () => {
    it("prints each container death with its exit code, and nothing else", async () => {
      const buildDir = mkdtempSync(join(tmpdir(), "crowsnest-go-deaths-"));
      const binary = join(buildDir, "deaths");
      await run("go", ["build", "-o", binary, "."], {
        cwd: new URL("go-deaths/", examplesDir),
        env: {
          ...exampleEnv,
          GO111MODULE: "off",
          GOPATH: DEBIAN_GOPATH,
          GOCACHE: join(tmpdir(), "crowsnest-examples-gocache"),
        },
        timeout: 240_000,
      });
      const { stdout: unformatted } = await run("gofmt", ["-l", "."], {
        cwd: new URL("go-deaths/", examplesDir),
      });
      expect(unformatted, "gofmt -l lists no file").toBe("");
      const child = spawn(binary, ["-count", "2"], { env: exampleEnv, stdio: ["ignore", "pipe", "pipe"] });
      const stdout = lines(child, "stdout");
      const stderr = lines(child, "stderr");
      try {
        await eventually(() => (stderr.some((line) => line.includes("listening on")) ? true : undefined), {
          timeoutMs: 20_000,
          what: "the Go subscriber to subscribe",
        });
        const js = jetstream(nc);
        const ts = at(0);
        await publishEvent(js, subjects, eventFixture({ action: "start", ts }));
        await publishEvent(js, subjects, death("node-1", "web.1", 137, true, ts));
        await publishEvent(js, subjects, death("node-2", "db", null, null, ts));
        // -count 2: it exits by itself after the two deaths, having printed nothing for the start.
        const exitCode = await eventually(() => child.exitCode ?? undefined, {
          timeoutMs: 20_000,
          what: "the Go subscriber to exit after two deaths",
        });
        expect(exitCode).toBe(0);
        expect(stdout).toEqual([
          `${ts} node-1 web.1 exit_code=137 oom_killed=true`,
          `${ts} node-2 db exit_code=unknown oom_killed=unknown`,
        ]);
      } finally {
        child.kill();
      }
    }, 300_000);
  });

  describe("examples/node-durable-consumer", () => {
    // A prefix of its own, so the stream holds only this test's events.
    const durablePrefix = testSubjectPrefix();
    const durableSubjects = createSubjects(durablePrefix);
    const consumerName = `durable-${uniqueSuffix()}`;
    beforeAll(async () => {
      await ensureStreams(
        await jetstreamManager(nc),
        streamDefinitions(durableSubjects, DEFAULT_STREAM_RETENTION),
        pino({ level: "silent" }),
      );
    });
    afterAll(async () => {
      if (nc) await deleteTestStreams(nc, durablePrefix);
    });
    const catchUp = async (): Promise<string[]> => {
      const { stdout } = await run(
        process.execPath,
        [new URL("node-durable-consumer/consumer.mts", examplesDir).pathname, "--until-caught-up"],
        {
          env: { ...exampleEnv, CROWSNEST_SUBJECT_PREFIX: durablePrefix, CONSUMER_NAME: consumerName },
          timeout: 60_000,
        },
      );
      return stdout.split("\n").filter((line) => line !== "");
    };
    const events = (list: EventMessage[]) =>
      list.map(
        (event) =>
          `${event.ts} ${event.host} ${event.kind} ${event.actor.name} ${event.action}${event.exit_code === null ? "" : ` exit_code=${event.exit_code}`}`,
      );

    it("prints every event, then only those published while it was away", async () => {
      const js = jetstream(nc);
      const before = [
        eventFixture({ action: "start", ts: at(10) }),
        death("node-1", "web.1", 137, true, at(11)),
      ];
      for (const event of before) await publishEvent(js, durableSubjects, event);
      expect(await catchUp()).toEqual(events(before));

      const whileAway = [
        eventFixture({ action: "start", ts: at(12) }),
        death("node-1", "web.1", 0, false, at(13)),
      ];
      for (const event of whileAway) await publishEvent(js, durableSubjects, event);
      expect(await catchUp()).toEqual(events(whileAway));
      expect(await catchUp()).toEqual([]);
    }, 180_000);
  });

  describe("docs/bus-contract.md's `nats sub` one-liners", () => {
    const page = readFileSync(new URL("../docs/bus-contract.md", import.meta.url), "utf8");
    const oneLiners = [...page.matchAll(/^nats sub '([^']+)'/gm)].map((match) => match[1] ?? "");
    // What each one-liner is for, as its comment on that page says.
    const expected: Record<string, string[]> = {
      "crowsnest.v1.stats.>": ["stats node-1 web.1", "stats node-2 db"],
      "crowsnest.v1.stats.node-1.docker.*": ["stats node-1 web.1"],
      "crowsnest.v1.events.*.docker.container.die": ["events node-1 die", "events node-2 die"],
      "crowsnest.v1.agents.>": ["agents node-1"],
    };

    it("are the ones this test knows", () => {
      expect(oneLiners.sort()).toEqual(Object.keys(expected).sort());
    });

    it("receive what the page says they do", async () => {
      const received = new Map<string, string[]>(oneLiners.map((filter) => [filter, []]));
      const subscriptions = oneLiners.map((filter) => {
        const subscription = nc.subscribe(filter.replace(/^crowsnest\./, `${prefix}.`));
        void (async () => {
          for await (const message of subscription) {
            const payload = message.json<{ host: string; container?: { name: string }; action?: string }>();
            const family = message.subject.slice(`${prefix}.v1.`.length).split(".")[0];
            const detail = payload.container?.name ?? payload.action;
            received.get(filter)?.push([family, payload.host, detail].filter((part) => part).join(" "));
          }
        })();
        return subscription;
      });
      await nc.flush();
      const js = jetstream(nc);
      const ts = at(20);
      await publishStats(
        js,
        subjects,
        statsFixture({ ts, host: "node-1", container: { external_id: "a1", name: "web.1" } }),
      );
      await publishStats(
        js,
        subjects,
        statsFixture({ ts, host: "node-2", container: { external_id: "b2", name: "db" } }),
      );
      await publishEvent(js, subjects, eventFixture({ action: "start", ts, host: "node-1" }));
      await publishEvent(js, subjects, death("node-1", "web.1", 1, false, ts));
      await publishEvent(js, subjects, death("node-2", "db", 2, false, ts));
      const heartbeat = CONTRACT_MESSAGES.find((message) => message.name === "heartbeat")?.examples[0]
        ?.payload;
      nc.publish(subjects.agent("node-1", "collector"), JSON.stringify({ ...heartbeat, host: "node-1" }));
      try {
        await eventually(
          () =>
            oneLiners.every(
              (filter) => (received.get(filter)?.length ?? 0) >= (expected[filter]?.length ?? 0),
            )
              ? true
              : undefined,
          { timeoutMs: 10_000, what: "every one-liner to receive its messages" },
        );
        await nc.flush();
        expect(Object.fromEntries([...received].map(([filter, got]) => [filter, got.sort()]))).toEqual(
          expected,
        );
      } finally {
        for (const subscription of subscriptions) subscription.unsubscribe();
      }
    });
  });
});
