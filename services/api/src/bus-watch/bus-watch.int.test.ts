// crowsnest-bus as a user runs it, against the real NATS server: it says when it is watching,
// prints one line per message published after that, and stops after --count.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { codecs, createSubjects } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventFixture, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));

function runBusWatch(args: string[], env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [
      "--conditions=crowsnest-source",
      "--disable-warning=ExperimentalWarning",
      "services/api/src/bus-watch/main.ts",
      ...args,
    ],
    { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return { child, output, exited };
}

describe("crowsnest-bus", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectTestNats();
  });

  afterAll(async () => {
    await nc?.close();
  });

  it("prints the messages of the prefix's subjects, one line each, and stops after --count", async () => {
    const run = runBusWatch(["--count", "2"], {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
    });
    try {
      await eventually(async () => run.output.stderr.includes("watching") || undefined, {
        timeoutMs: 20_000,
        what: `crowsnest-bus to subscribe (stderr: ${run.output.stderr})`,
      });
      expect(run.output.stderr).toContain(`watching ${prefix}.v1.>`);
      const web = { external_id: "a".repeat(64), name: "web" };
      const stats = codecs.stats.encode(
        statsFixture({ ts: new Date().toISOString(), container: web, cpu_percent: 42 }),
      );
      const die = codecs.event.encode(
        eventFixture({ ts: new Date().toISOString(), action: "die", actor: web, exit_code: 3 }),
      );
      if (!stats.ok || !die.ok) throw new Error("fixtures do not encode");
      // Outside the prefix: not watched.
      nc.publish("elsewhere.v1.stats.x", new TextEncoder().encode("{}"));
      nc.publish(subjects.stats("host-a", "docker", "web"), stats.data);
      nc.publish(subjects.event("host-a", "docker", "container", "die"), die.data);
      await nc.flush();
      expect(await run.exited).toBe(0);
      const lines = run.output.stdout.trim().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/ {2}stats {5}host-a\/web +cpu 42\.0% /);
      expect(lines[1]).toMatch(/ {2}event {5}host-a\/web +die {2}exit 3$/);
    } finally {
      run.child.kill();
    }
  });

  it("prints the payload as published with --json, for the subjects asked for", async () => {
    const subject = `${prefix}.v1.custom.one`;
    const run = runBusWatch(["--json", "--count", "1", `${prefix}.v1.custom.>`], {
      CROWSNEST_NATS_URL: natsUrl(),
    });
    try {
      await eventually(async () => run.output.stderr.includes("watching") || undefined, {
        timeoutMs: 20_000,
        what: "crowsnest-bus to subscribe",
      });
      nc.publish(subject, new TextEncoder().encode('{"v":1,"anything":true}'));
      expect(await run.exited).toBe(0);
      expect(run.output.stdout).toBe(`${subject} {"v":1,"anything":true}\n`);
    } finally {
      run.child.kill();
    }
  });

  it("says what is wrong, without a stack trace, when NATS is not there or an option is bad", async () => {
    const unreachable = runBusWatch([], { CROWSNEST_NATS_URL: "nats://127.0.0.1:1" });
    expect(await unreachable.exited).toBe(1);
    expect(unreachable.output.stderr).toMatch(
      /^crowsnest-bus: cannot reach NATS at nats:\/\/127\.0\.0\.1:1: /,
    );
    const badCount = runBusWatch(["--count", "0"], { CROWSNEST_NATS_URL: natsUrl() });
    expect(await badCount.exited).toBe(2);
    expect(badCount.output.stderr).toBe('crowsnest-bus: --count must be a positive integer, not "0"\n');
    const badPrefix = runBusWatch([], { CROWSNEST_SUBJECT_PREFIX: "a..b" });
    expect(await badPrefix.exited).toBe(2);
    expect(badPrefix.output.stderr).toContain("CROWSNEST_SUBJECT_PREFIX");
    expect(badPrefix.output.stderr).not.toMatch(/\bat .+\.(ts|js):\d+/);
  });
});
