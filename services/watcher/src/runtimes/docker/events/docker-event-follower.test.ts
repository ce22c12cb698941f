// The follower against a scripted, restartable fake of dockerd's event stream: reconnects,
// replay and de-duplication, logging once per outage, and the liveness probe.
import { PassThrough } from "node:stream";
import { codecs, createSubjects, type EventMessage } from "@crowsnest/shared";
import type { OutgoingMessage } from "@crowsnest/shared/publishing";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { ResumePoint, RuntimeEventSink } from "../../../following/runtime-event-source.ts";
import { createEventPublisher } from "../../../publishing/event-publisher.ts";
import type { DockerApi, DockerEventsOptions, DockerReplayOptions } from "../docker-api.ts";
import {
  createDockerEventFollower,
  type DockerEventFollower,
  type DockerEventFollowerOptions,
} from "./docker-event-follower.ts";

const ID = "0b5e1d7c3f0a4d9e8b2c6a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d";
const subjects = createSubjects("t-follower");

function line(action: string, timeNano: string, attributes: Record<string, string> = {}): string {
  return `${JSON.stringify({
    Type: "container",
    Action: action,
    Actor: { ID, Attributes: { name: "app", image: "busybox", ...attributes } },
    time: Number(timeNano.slice(0, 10)),
  }).slice(0, -1)},"timeNano":${timeNano}}\n`;
}

/** dockerd as the follower sees it: each getEvents call opens a new stream the test writes to. */
function fakeDocker() {
  const streams: PassThrough[] = [];
  const calls: DockerEventsOptions[] = [];
  const replays: DockerReplayOptions[] = [];
  const fake = {
    streams,
    calls,
    replays,
    /** What the next bounded replays answer, one text per call; nothing when empty. */
    replayTexts: [] as string[],
    failNextOpens: 0,
    pingFails: false,
    async replayEvents(options: DockerReplayOptions) {
      replays.push(options);
      const stream = new PassThrough();
      stream.end(fake.replayTexts.shift() ?? "");
      return stream;
    },
    async inspectContainer(): Promise<unknown> {
      throw new Error("not scripted");
    },
    async containerLogs(): Promise<never> {
      throw new Error("not scripted");
    },
    async getEvents(options: DockerEventsOptions) {
      calls.push(options);
      if (fake.failNextOpens > 0) {
        fake.failNextOpens -= 1;
        throw new Error("connect ENOENT /var/run/docker.sock");
      }
      const stream = new PassThrough();
      streams.push(stream);
      return stream;
    },
    async listContainers() {
      return [];
    },
    async ping() {
      if (fake.pingFails) throw new Error("ping failed");
      return "OK";
    },
  } satisfies DockerApi & Record<string, unknown>;
  return fake;
}

function capturingLogger() {
  const records: { level: number; msg: string }[] = [];
  const logger = pino({ level: "debug" }, { write: (text: string) => void records.push(JSON.parse(text)) });
  return { logger, records, warnings: () => records.filter((r) => r.level === 40).map((r) => r.msg) };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("createDockerEventFollower", () => {
  let follower: DockerEventFollower | undefined;
  afterEach(async () => {
    await follower?.stop();
    follower = undefined;
  });

  /** The core's part, as the tests script it: what a subscription does, and which events it refuses. */
  interface SinkOptions {
    onSubscribed?: RuntimeEventSink["subscribed"];
    /** False: a repeat of a synthesized transition, not published. */
    onEvent?: (event: EventMessage) => boolean;
  }

  function setup(options: Partial<DockerEventFollowerOptions> & SinkOptions = {}, resume?: ResumePoint) {
    const docker = fakeDocker();
    const { logger, warnings } = capturingLogger();
    const published: EventMessage[] = [];
    const messages: OutgoingMessage[] = [];
    const subscriptions: string[] = [];
    const publish = createEventPublisher({
      queue: {
        enqueue(message) {
          messages.push(message);
          const decoded = codecs.event.decode(message.payload);
          if (!decoded.ok) throw new Error(decoded.detail);
          published.push(decoded.value);
        },
      },
      subjects,
      logger,
    });
    const { onSubscribed, onEvent, ...followerOptions } = options;
    follower = createDockerEventFollower({
      docker,
      host: "h1",
      logger,
      reconnect: { initialMs: 5, maxMs: 20 },
      ...followerOptions,
    });
    follower.start(
      {
        subscribed: onSubscribed ?? (async (reason) => void subscriptions.push(reason)),
        event: (event) => {
          if (onEvent?.(event) !== false) publish(event);
        },
        repeated: () => undefined,
      },
      resume,
    );
    return { docker, published, messages, subscriptions, warnings, follower };
  }

  it("subscribes, then publishes lifecycle events in order, whatever the chunking", async () => {
    const { docker, published, messages, subscriptions, warnings, follower } = setup();
    await until(() => follower.isConnected(), "the subscription");
    expect(docker.calls[0]).toEqual({ filters: { type: ["container"] } });
    const text = [
      line("start", "1795294273100000000"),
      line("exec_start: sh -c true", "1795294273200000000"),
      "this is not json\n",
      line("die", "1795294273300000000", { exitCode: "3" }),
    ].join("");
    const stream = docker.streams[0];
    stream?.write(text.slice(0, 37));
    stream?.write(text.slice(37, 400));
    stream?.write(text.slice(400));
    await until(() => published.length === 2, "two events");
    expect(subscriptions).toEqual(["startup"]);
    expect(published.map((e) => [e.action, e.exit_code])).toEqual([
      ["start", null],
      ["die", 3],
    ]);
    expect(messages[1]).toMatchObject({
      subject: subjects.event("h1", "docker", "container", "die"),
      msgID: `h1/docker/1795294273300000000/${ID}/die`,
    });
    expect(warnings()).toEqual(["malformed Docker event skipped"]);
  });

  it("resubscribes from the last event's second, publishes the gap once, and logs the outage once", async () => {
    const { docker, published, subscriptions, warnings, follower } = setup();
    await until(() => docker.streams.length === 1, "the subscription");
    docker.streams[0]?.write(line("start", "1795294273100000000"));
    await until(() => published.length === 1, "the start");

    docker.failNextOpens = 3;
    docker.streams[0]?.end();
    await until(() => docker.streams.length === 2 && follower.isConnected(), "the resubscription");
    // Seconds, not the nanosecond timestamp (prior art's year-2077 bug).
    expect(docker.calls.slice(1).map((call) => call.since)).toEqual([
      1795294273, 1795294273, 1795294273, 1795294273,
    ]);
    // dockerd replays from that second: the start again, then what happened in the gap.
    docker.streams[1]?.write(
      line("start", "1795294273100000000") + line("die", "1795294275000000000", { exitCode: "0" }),
    );
    await until(() => published.length === 2, "the die of the gap");
    await until(() => subscriptions.length === 2, "the resync");
    expect(subscriptions).toEqual(["startup", "resync"]);
    expect(published.map((e) => e.action)).toEqual(["start", "die"]);
    expect(warnings()).toEqual(["Docker event stream ended; reconnecting with backoff"]);
  });

  it("replays from its first subscription when the stream breaks before any event came", async () => {
    const { docker } = setup();
    await until(() => docker.streams.length === 1, "the subscription");
    const subscribedAtSeconds = Math.floor(Date.now() / 1000);
    docker.streams[0]?.destroy();
    await until(() => docker.streams.length === 2, "the resubscription");
    const since = docker.calls[1]?.since ?? 0;
    expect(since).toBeLessThanOrEqual(subscribedAtSeconds);
    expect(since).toBeGreaterThanOrEqual(subscribedAtSeconds - 2);
  });

  it("reopens a stream whose dockerd stopped answering pings", async () => {
    const { docker, warnings } = setup({ livenessProbeIntervalMs: 10 });
    await until(() => docker.streams.length === 1, "the subscription");
    docker.pingFails = true;
    await until(() => docker.streams.length === 2, "the reopened stream");
    expect(docker.streams[0]?.destroyed).toBe(true);
    expect(warnings()[0]).toBe("dockerd does not answer a ping; reopening the event stream");
  });

  it("stops at once, even in the middle of a backoff", async () => {
    const { docker, follower } = setup();
    docker.failNextOpens = Number.POSITIVE_INFINITY;
    await until(() => docker.streams.length === 1, "the subscription");
    docker.streams[0]?.end();
    await until(() => docker.calls.length >= 3, "failing reconnects");
    const started = Date.now();
    await follower.stop();
    expect(Date.now() - started).toBeLessThan(100);
    expect(follower.isConnected()).toBe(false);
  });

  it("after a reconnect, handles the gap's replay first, then resynchronizes, then the new stream", async () => {
    let release = (): void => undefined;
    const publishedAtResync: string[][] = [];
    const { docker, published } = setup({
      onSubscribed: async (reason) => {
        if (reason !== "resync") return;
        publishedAtResync.push(published.map((e) => `${e.action}@${e.ts_nano}`));
        await new Promise<void>((resolve) => (release = resolve));
      },
    });
    await until(() => docker.streams.length === 1, "the subscription");
    docker.streams[0]?.write(line("start", "1795294273100000000"));
    await until(() => published.length === 1, "the start");

    // dockerd's buffer: the start already seen, and the die of the gap.
    docker.replayTexts.push(
      line("start", "1795294273100000000") + line("die", "1795294275000000000", { exitCode: "4" }),
    );
    docker.streams[0]?.end();
    await until(() => docker.streams.length === 2, "the resubscription");
    // The new stream replays the same (since = the last event's second) and goes on live.
    docker.streams[1]?.write(
      line("die", "1795294275000000000", { exitCode: "4" }) + line("start", "1795294280000000000"),
    );
    await until(() => publishedAtResync.length === 1, "the resync");
    expect(docker.replays).toHaveLength(1);
    expect(docker.replays[0]?.since).toBe(1795294273);
    expect(Number(docker.replays[0]?.until)).toBeGreaterThan(Date.now() / 1000 - 5);
    expect(publishedAtResync[0]).toEqual(["start@1795294273100000000", "die@1795294275000000000"]);
    // The live start waits for the resync to finish.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(published).toHaveLength(2);
    release();
    await until(() => published.length === 3, "the live start");
    expect(published.map((e) => `${e.action}:${e.exit_code}`)).toEqual(["start:null", "die:4", "start:null"]);
  });

  it("publishes what enrich adds, and nothing that onEvent refuses", async () => {
    const { docker, published } = setup({
      enrich: async (event) => (event.action === "die" ? { ...event, oom_killed: true } : event),
      onEvent: (event) => event.action !== "destroy",
    });
    await until(() => docker.streams.length === 1, "the subscription");
    docker.streams[0]?.write(
      line("die", "1795294273100000000", { exitCode: "137" }) +
        line("destroy", "1795294273200000000") +
        line("create", "1795294273300000000"),
    );
    await until(() => published.length === 2, "two events");
    expect(published.map((e) => [e.action, e.oom_killed])).toEqual([
      ["die", true],
      ["create", null],
    ]);
  });

  it("publishes one oom for a kill dockerd reports twice, and the die as an OOM death", async () => {
    const { docker, published } = setup();
    await until(() => docker.streams.length === 1, "the subscription");
    docker.streams[0]?.write(
      line("oom", "1795294273100000000") +
        line("oom", "1795294273130000000") +
        line("die", "1795294273140000000", { exitCode: "137" }) +
        line("start", "1795294275000000000") +
        // The next run's kill is a kill of its own.
        line("oom", "1795294275500000000") +
        line("die", "1795294275510000000", { exitCode: "137" }),
    );
    await until(() => published.length === 5, "five events");
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(published.map((e) => `${e.action}:${e.oom_killed}`)).toEqual([
      "oom:null",
      "die:true",
      "start:null",
      "oom:null",
      "die:true",
    ]);
    expect(published[0]?.ts_nano).toBe("1795294273100000000");
  });

  it("makes a die an OOM death when dockerd sends its oom after it, and publishes both once", async () => {
    const { docker, published } = setup({ lateOomWaitMs: 2000 });
    await until(() => docker.streams.length === 1, "the subscription");
    const stream = docker.streams[0];
    stream?.write(line("die", "1795294273100000000", { exitCode: "137" }));
    // Delivered late, as dockerd's own ordering sometimes has it (84 ms seen).
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(published).toHaveLength(0);
    stream?.write(line("oom", "1795294273184000000") + line("oom", "1795294273190000000"));
    await until(() => published.length === 2, "the die and the oom");
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(published.map((e) => `${e.action}:${e.oom_killed}`)).toEqual(["die:true", "oom:null"]);
  });

  it("does not hold a SIGKILL death for longer than the wait, nor call it an OOM death", async () => {
    const { docker, published } = setup({ lateOomWaitMs: 100 });
    await until(() => docker.streams.length === 1, "the subscription");
    const started = Date.now();
    docker.streams[0]?.write(
      line("die", "1795294273100000000", { exitCode: "137" }) + line("destroy", "1795294273200000000"),
    );
    await until(() => published.length === 2, "the die and the destroy");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(published.map((e) => `${e.action}:${e.oom_killed}`)).toEqual(["die:false", "destroy:null"]);
  });

  it("after a restart, replays what dockerd has since the recorded point before the startup look, and nothing up to it", async () => {
    const publishedAtStartup: string[][] = [];
    const { docker, published } = setup(
      {
        onSubscribed: async (reason) => {
          publishedAtStartup.push([reason, ...published.map((e) => `${e.action}@${e.ts_nano}`)]);
        },
      },
      { afterNano: 1795294273500000000n },
    );
    // dockerd's buffer from that second: the die published before the restart, then the gap.
    docker.replayTexts.push(
      line("die", "1795294273500000000", { exitCode: "0" }) +
        line("destroy", "1795294274000000000") +
        line("create", "1795294275000000000"),
    );
    await until(() => publishedAtStartup.length === 1, "the startup look");
    expect(docker.calls[0]?.since).toBe(1795294273);
    expect(docker.replays[0]?.since).toBe(1795294273);
    expect(publishedAtStartup[0]).toEqual([
      "startup",
      "destroy@1795294274000000000",
      "create@1795294275000000000",
    ]);
    // The new stream's own replay of the same is recognized.
    docker.streams[0]?.write(line("destroy", "1795294274000000000") + line("start", "1795294276000000000"));
    await until(() => published.length === 3, "the live start");
    expect(published.map((e) => e.action)).toEqual(["destroy", "create", "start"]);
  });
});
