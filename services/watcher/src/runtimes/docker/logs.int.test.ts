// Log requests over the bus, as a requester sees them, against real containers and a real
// NATS server: order and tags of interleaved streams, timestamps, tail, TTY, follow mode and
// its three ends, chunking at the server's max payload, and every error answer.
import {
  codecs,
  createLogger,
  createSubjects,
  type LogsReply,
  type LogsRequest,
  type Subjects,
} from "@crowsnest/shared";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../../../test/support/docker-workloads.ts";
import {
  connectTestNats,
  eventually,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";
import { createInspectResponder } from "../../rpc/inspect-responder.ts";
import { createRpcServer, type RpcServer } from "../../rpc/rpc-server.ts";
import { createDockerInspector } from "./docker-inspector.ts";
import { createDockerodeApi } from "./dockerode-adapter.ts";
import { createLogsResponder, type LogsResponder } from "./logs-responder.ts";

interface Answer {
  replies: LogsReply[];
  /** Size of each reply message as it came off the wire. */
  sizes: number[];
  undecodable: string[];
}

type LogLine = Extract<LogsReply, { ok: true }>["lines"][number];

describe("log requests over the bus", () => {
  const docker = testDocker();
  const dockerApi = createDockerodeApi({ socketPath: "/var/run/docker.sock" });
  const subjects: Subjects = createSubjects(testSubjectPrefix());
  const host = `itest-logs-${uniqueSuffix()}`;
  /** A second watcher with a short time limit and room for one request, under its own host name. */
  const limitedHost = `${host}-limited`;
  const logRecords: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (text: string) => void logRecords.push(JSON.parse(text)) },
  );
  const workloads: Workload[] = [];
  let serverNc: NatsConnection;
  let clientNc: NatsConnection;
  let servers: RpcServer[] = [];
  let logs: LogsResponder;
  let limitedLogs: LogsResponder;

  function responder(overrides: { maxDurationMs?: number; maxConcurrent?: number } = {}) {
    return createLogsResponder({
      docker: dockerApi,
      nc: serverNc,
      logger,
      dockerTimeoutMs: 5000,
      maxConcurrent: overrides.maxConcurrent ?? 8,
      maxDurationMs: overrides.maxDurationMs ?? 60_000,
      probeIntervalMs: 300,
      maxPayloadBytes: () => serverNc.info?.max_payload ?? 1024 * 1024,
    });
  }

  /** What a requester does: subscribes to its own inbox, then publishes the request with it as reply. */
  async function request(
    payload: Partial<LogsRequest> | string,
    options: { host?: string; timeoutMs?: number; onReply?: (reply: LogsReply) => void } = {},
  ): Promise<Answer> {
    const inbox = createInbox();
    const subscription = clientNc.subscribe(inbox);
    const answer: Answer = { replies: [], sizes: [], undecodable: [] };
    const done = (async () => {
      for await (const message of subscription) {
        answer.sizes.push(message.data.length);
        const decoded = codecs.logsReply.decode(message.data);
        if (!decoded.ok) {
          answer.undecodable.push(decoded.detail);
          continue;
        }
        answer.replies.push(decoded.value);
        options.onReply?.(decoded.value);
        if (!decoded.value.ok || decoded.value.done) break;
      }
    })();
    const data = typeof payload === "string" ? payload : JSON.stringify({ v: 1, ...payload });
    clientNc.publish(subjects.rpc(options.host ?? host, "logs"), data, { reply: inbox });
    const timeoutMs = options.timeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no complete answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      subscription.unsubscribe();
    });
    return answer;
  }

  const linesOf = (answer: Answer): LogLine[] =>
    answer.replies.flatMap((reply) => (reply.ok ? reply.lines : []));
  const tagged = (answer: Answer) => linesOf(answer).map((line) => `${line.stream}:${line.text}`);

  function expectComplete(answer: Answer): void {
    expect(answer.undecodable).toEqual([]);
    expect(answer.replies.map((reply) => (reply.ok ? reply.seq : -1))).toEqual(
      answer.replies.map((_, i) => i),
    );
    expect(answer.replies.map((reply) => reply.ok && reply.done)).toEqual(
      answer.replies.map((_, i) => i === answer.replies.length - 1),
    );
  }

  async function exited(workload: Workload): Promise<void> {
    await eventually(
      async () => ((await workload.container.inspect()).State.Status === "exited" ? true : undefined),
      { timeoutMs: 15_000, what: `${workload.name} to exit` },
    );
  }

  async function run(script: string, options: { tty?: boolean } = {}): Promise<Workload> {
    const workload = await startWorkload(docker, { script, namePrefix: "crowsnest-logs", ...options });
    workloads.push(workload);
    return workload;
  }

  beforeAll(async () => {
    serverNc = await connectTestNats();
    clientNc = await connectTestNats();
    logs = responder();
    limitedLogs = responder({ maxDurationMs: 1500, maxConcurrent: 1 });
    const inspect = createInspectResponder({
      inspect: createDockerInspector({ docker: dockerApi, timeoutMs: 5000 }),
      nc: serverNc,
      logger,
    });
    servers = [
      createRpcServer({ nc: serverNc, subjects, host, logger, logs, inspect }),
      createRpcServer({ nc: serverNc, subjects, host: limitedHost, logger, logs: limitedLogs, inspect }),
    ];
    for (const server of servers) server.start();
    await serverNc.flush();
  });

  afterAll(async () => {
    for (const server of servers) await server.stop();
    await Promise.all(workloads.map((workload) => workload.remove()));
    await clientNc?.close();
    await serverNc?.close();
  });

  describe("a container's logs", () => {
    let interleaved: Workload;
    const written = [1, 2, 3, 4, 5, 6].flatMap((i) => [`stdout:out${i}`, `stderr:err${i}`]);
    /** The order dockerd stored, read with the simplest possible demultiplexer over the whole answer. */
    let stored: string[];
    /** dockerd's timestamp of each stored line. */
    let storedTimes: string[];

    /** Frames of a whole multiplexed answer: `[stream, text]`. */
    function frames(raw: Buffer): [string, string][] {
      const out: [string, string][] = [];
      for (let offset = 0; offset + 8 <= raw.length; ) {
        const size = raw.readUInt32BE(offset + 4);
        const text = raw
          .subarray(offset + 8, offset + 8 + size)
          .toString("utf8")
          .replace(/\n$/, "");
        out.push([raw[offset] === 2 ? "stderr" : "stdout", text]);
        offset += 8 + size;
      }
      return out;
    }

    beforeAll(async () => {
      interleaved = await run(
        "for i in 1 2 3 4 5 6; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done",
      );
      await exited(interleaved);
      // dockerd reads stdout and stderr with one goroutine each and stores (and time-stamps)
      // lines as those are scheduled, so on a loaded host its order can differ from the order
      // of the writes. What the watcher must keep is dockerd's order and times.
      const read = async (timestamps: boolean) =>
        frames(
          (await interleaved.container.logs({
            stdout: true,
            stderr: true,
            follow: false,
            timestamps,
          })) as Buffer,
        );
      stored = (await read(false)).map(([stream, text]) => `${stream}:${text}`);
      storedTimes = (await read(true)).map(([, text]) => {
        const [time = "", rest = ""] = text.split(" ");
        const [seconds = "", fraction = ""] = time.replace(/Z$/, "").split(".");
        expect(rest).toMatch(/^(out|err)\d$/);
        return new Date(`${seconds}.${fraction.padEnd(3, "0").slice(0, 3)}Z`).toISOString();
      });
    });

    const streamOf = (lines: string[], stream: string) =>
      lines.filter((line) => line.startsWith(`${stream}:`));

    it("come back interleaved in dockerd's order, each tagged with its stream", async () => {
      const answer = await request({ container: interleaved.name });
      expectComplete(answer);
      expect(tagged(answer)).toEqual(stored);
      // Each stream in the order it was written, every line once, with the right tag.
      expect(streamOf(tagged(answer), "stdout")).toEqual(streamOf(written, "stdout"));
      expect(streamOf(tagged(answer), "stderr")).toEqual(streamOf(written, "stderr"));
      expect(linesOf(answer).every((line) => line.ts === null)).toBe(true);
    });

    it("carry the runtime's timestamps when asked, and can be cut to the tail or one stream", async () => {
      const state = (await interleaved.container.inspect()).State;
      const withTimes = await request({ container: interleaved.id, timestamps: true });
      expect(tagged(withTimes)).toEqual(stored);
      // dockerd's times to the millisecond, not the watcher's.
      expect(linesOf(withTimes).map((line) => line.ts)).toEqual(storedTimes);
      // (dockerd stamps a line when its reader gets to it, which can be before StartedAt is set.)
      expect(Math.abs(Date.parse(storedTimes[0] ?? "") - Date.parse(state.StartedAt))).toBeLessThan(10_000);

      expect(tagged(await request({ container: interleaved.id.slice(0, 12), tail: 3 }))).toEqual(
        stored.slice(-3),
      );
      expect(tagged(await request({ container: interleaved.name, stream: "stderr" }))).toEqual(
        streamOf(written, "stderr"),
      );
      const since = linesOf(withTimes)[6]?.ts ?? "";
      expect(tagged(await request({ container: interleaved.name, since }))).toEqual(
        linesOf(withTimes)
          .filter((line) => (line.ts ?? "") >= since)
          .map((line) => `${line.stream}:${line.text}`),
      );
    });

    it("of a TTY container come back as one stream tagged tty, without the terminal's carriage returns", async () => {
      const tty = await run("echo one; echo two >&2; printf 'no newline'", { tty: true });
      await exited(tty);
      const answer = await request({ container: tty.name, timestamps: true });
      expectComplete(answer);
      expect(tagged(answer)).toEqual(["tty:one", "tty:two", "tty:no newline"]);
      expect(linesOf(answer).every((line) => line.ts !== null)).toBe(true);
    });

    it("are chunked at the server's max payload and reassemble to the exact lines", async () => {
      const maxPayload = serverNc.info?.max_payload ?? 0;
      expect(maxPayload).toBeGreaterThan(0);
      // 3000 lines of about 1 KiB: about three times the default max payload of 1 MiB.
      const big = await run(
        's=$(head -c 1000 /dev/zero | tr "\\0" x); i=0; while [ $i -lt 3000 ]; do echo "$i $s"; i=$((i+1)); done',
      );
      await exited(big);
      const answer = await request({ container: big.id, tail: 5000 });
      expectComplete(answer);
      expect(answer.replies.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...answer.sizes)).toBeLessThanOrEqual(maxPayload);
      const filler = "x".repeat(1000);
      expect(linesOf(answer)).toEqual(
        Array.from({ length: 3000 }, (_, i) => ({ stream: "stdout", ts: null, text: `${i} ${filler}` })),
      );
    });
  });

  describe("follow mode", () => {
    it("streams a line written after the request, and ends with done when the container stops", async () => {
      const workload = await run("echo before; sleep 2; echo after; sleep 1");
      await eventually(async () => ((await workload.container.inspect()).State.Running ? true : undefined), {
        timeoutMs: 5000,
        what: "the container to run",
      });
      const requestedAt = Date.now();
      const arrivals: { text: string; atMs: number }[] = [];
      const answer = await request(
        { container: workload.name, follow: true, timestamps: true },
        {
          onReply: (reply) => {
            if (reply.ok)
              for (const line of reply.lines) arrivals.push({ text: line.text, atMs: Date.now() });
          },
        },
      );
      expectComplete(answer);
      expect(linesOf(answer).map((line) => line.text)).toEqual(["before", "after"]);
      const after = linesOf(answer)[1];
      // Written after the request was sent, delivered as it was written, not at the end.
      expect(Date.parse(after?.ts ?? "")).toBeGreaterThan(requestedAt);
      const lastReplyAt = Date.now();
      expect(
        lastReplyAt - (arrivals.find((a) => a.text === "after")?.atMs ?? lastReplyAt),
      ).toBeGreaterThanOrEqual(500);
      await eventually(() => (logs.active === 0 ? true : undefined), {
        timeoutMs: 2000,
        what: "the request to end",
      });
    });

    it("ends with done when the time limit passes", async () => {
      const workload = await run("while :; do echo tick; sleep 0.3; done");
      const started = Date.now();
      const answer = await request({ container: workload.id, follow: true }, { host: limitedHost });
      const elapsed = Date.now() - started;
      expectComplete(answer);
      expect(elapsed).toBeGreaterThanOrEqual(1400);
      expect(elapsed).toBeLessThan(5000);
      expect(linesOf(answer).length).toBeGreaterThanOrEqual(2);
      expect(linesOf(answer).every((line) => line.text === "tick" && line.stream === "stdout")).toBe(true);
      await workload.remove();
    });

    it("stops streaming when the requester goes away, and sends an empty probe chunk to one that stays", async () => {
      const workload = await run("while :; do sleep 0.5; done");
      const inbox = createInbox();
      const subscription = clientNc.subscribe(inbox);
      const received: LogsReply[] = [];
      void (async () => {
        for await (const message of subscription) {
          const decoded = codecs.logsReply.decode(message.data);
          if (decoded.ok) received.push(decoded.value);
        }
      })();
      clientNc.publish(
        subjects.rpc(host, "logs"),
        JSON.stringify({ v: 1, container: workload.id, follow: true }),
        {
          reply: inbox,
        },
      );
      // A silent container: the probes (every 300 ms here) are what the requester gets.
      await eventually(() => (received.length >= 2 ? true : undefined), {
        timeoutMs: 5000,
        what: "probe chunks",
      });
      expect(received.slice(0, 2)).toEqual([
        { v: 1, ok: true, seq: 0, lines: [], done: false },
        { v: 1, ok: true, seq: 1, lines: [], done: false },
      ]);
      expect(logs.active).toBe(1);
      subscription.unsubscribe();
      await eventually(() => (logs.active === 0 ? true : undefined), {
        timeoutMs: 3000,
        what: "the watcher to notice the requester is gone",
      });
      expect(logRecords.some((record) => record.msg === "log stream ended")).toBe(true);
    });
  });

  describe("errors", () => {
    it("answers not_found for a container that does not exist", async () => {
      const answer = await request({ container: `crowsnest-no-such-${uniqueSuffix()}` });
      expect(answer.replies).toEqual([
        { v: 1, ok: false, error: { code: "not_found", message: expect.stringContaining("no container") } },
      ]);
    });

    it("answers bad_request for malformed JSON, a wrong schema, and a reference that is no container name", async () => {
      for (const payload of ["{not json", JSON.stringify({ v: 1, container: "web", tail: 999_999 })]) {
        const answer = await request(payload);
        expect(answer.replies).toEqual([
          {
            v: 1,
            ok: false,
            error: { code: "bad_request", message: expect.stringContaining("not a logs request") },
          },
        ]);
      }
      const traversal = await request({ container: "../../version" });
      expect(traversal.replies[0]).toMatchObject({ ok: false, error: { code: "bad_request" } });
    });

    it("answers runtime_unavailable while the most requests it serves are in progress", async () => {
      const workload = await run("while :; do sleep 0.5; done");
      const first = request({ container: workload.id, follow: true }, { host: limitedHost });
      await eventually(() => (limitedLogs.active === 1 ? true : undefined), {
        timeoutMs: 5000,
        what: "a follow",
      });
      const second = await request({ container: workload.id }, { host: limitedHost });
      expect(second.replies[0]).toMatchObject({
        ok: false,
        error: { code: "runtime_unavailable", message: expect.stringContaining("in progress") },
      });
      expectComplete(await first);
    });

    it("logs and drops a request without a reply subject, and keeps serving", async () => {
      clientNc.publish(subjects.rpc(host, "logs"), JSON.stringify({ v: 1, container: "web" }));
      await eventually(
        () => logRecords.find((record) => record.msg === "log request without a reply subject dropped"),
        { timeoutMs: 5000, what: "the log line" },
      );
      const answer = await request({ container: `crowsnest-no-such-${uniqueSuffix()}` });
      expect(answer.replies[0]).toMatchObject({ ok: false, error: { code: "not_found" } });
    });
  });

  it("ends a follow stream with done when the watcher stops", async () => {
    const workload = await run("while :; do sleep 0.5; done");
    const server = createRpcServer({
      nc: serverNc,
      subjects,
      host: `${host}-stopping`,
      logger: createLogger({ service: "watcher", level: "silent" }),
      logs: responder(),
      inspect: createInspectResponder({
        inspect: createDockerInspector({ docker: dockerApi, timeoutMs: 5000 }),
        nc: serverNc,
        logger,
      }),
    });
    server.start();
    await serverNc.flush();
    const replies: LogsReply[] = [];
    const answer = request(
      { container: workload.id, follow: true },
      { host: `${host}-stopping`, onReply: (reply) => void replies.push(reply) },
    );
    await eventually(() => (replies.length > 0 ? true : undefined), {
      timeoutMs: 5000,
      what: "a first chunk",
    });
    await server.stop();
    const final = await answer;
    expectComplete(final);
    expect(final.replies.at(-1)).toMatchObject({ ok: true, done: true });
  });
});
