// A live-stream client that stops reading, against the api as it ships (its own process, a
// real TCP socket) while tens of thousands of messages flow on the bus: the api cuts it off
// without waiting for it to read again, its memory stays within a stated bound, and the client
// can resume from the last event it got without losing one.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import {
  codecs,
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  ensureStreams,
  streamDefinitions,
  streamName,
} from "@crowsnest/shared";
import { openPostgres } from "@crowsnest/shared/postgres";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { type ServiceProcess, startService } from "../../../../test/support/service-process.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from "../../../../test/support/test-env.ts";
import type { StoreDatabase } from "../../../store/src/db/database.ts";
import { migrateToLatest } from "../../../store/src/db/migrations.ts";

const TOKEN = "backpressure-read-token-0123";
const MESSAGES = 100_000;
const MAX_BACKLOG = 100;
const STALL_TIMEOUT_MS = 8000;
/**
 * The bound on the api's RSS growth while the stalled client is connected and the messages
 * flow. Per stream the api holds at most MAX_BACKLOG events and 4 MiB (the default byte bound);
 * the rest is room for V8's young generation (up to 3 × 16 MiB of semi-spaces, grown under
 * allocation pressure and collected later on a busy machine) and JIT. Measured on the 2-core
 * machine: +21-24 MB quiet, +42 MB once in a CI run under load; cut off 1.5-3 s after
 * publishing began. Before the fix the api grew by 69 MB at 60 000 messages (134 → 203 MB,
 * about 1.7 MB per 1000 messages held) and never cut the client off: 100 000 messages put it far
 * past this bound.
 */
const RSS_GROWTH_BOUND_BYTES = 64 * 1024 * 1024;

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** An HTTP/1.1 request on a raw socket whose reading the test controls. */
function openRawStream(port: number, headers: Record<string, string> = {}) {
  // Once paused, the client takes nothing more off the kernel's socket than its stream's
  // 64 KiB buffer: what the api sends then waits in the kernel's buffers, and then in the api.
  const socket: Socket = connect({ port, host: "127.0.0.1" });
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(
    `GET /api/v1/stream?kinds=stats HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer ${TOKEN}\r\n${extra.join("")}\r\n`,
  );
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("close", () => {
    ended = true;
  });
  socket.on("error", () => undefined);
  const text = () => Buffer.concat(chunks).toString("utf8");
  return {
    socket,
    text,
    get ended() {
      return ended;
    },
    /** The SSE events received so far, from the chunked body (a cut-short last chunk included). */
    events() {
      const raw = text();
      const bodyStart = raw.indexOf("\r\n\r\n");
      return parseSse(dechunk(raw.slice(bodyStart + 4)));
    },
  };
}

function dechunk(body: string): string {
  let out = "";
  let rest = body;
  for (;;) {
    const lineEnd = rest.indexOf("\r\n");
    if (lineEnd < 0) return out;
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

function parseSse(text: string): { event: string; id: string | undefined; data: string }[] {
  // Only complete events (a block ended by a blank line) count.
  const blocks = text.split("\n\n").slice(0, -1);
  return blocks
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
      }
      return { event: fields.event ?? "", id: fields.id, data: fields.data ?? "" };
    })
    .filter((event) => event.event !== "");
}

describe("a live-stream client that stops reading", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let database: TestDatabase;
  let nc: NatsConnection;
  let api: ServiceProcess;
  let port: number;

  beforeAll(async () => {
    database = await createTestDatabase();
    // /metrics reads the store's tables.
    const postgres = openPostgres<StoreDatabase>({
      url: database.url,
      poolSize: 1,
      applicationName: "backpressure-test",
      onIdleError: () => undefined,
    });
    await migrateToLatest(postgres.db);
    await postgres.destroy();
    nc = await connectTestNats();
    await ensureStreams(
      await jetstreamManager(nc),
      streamDefinitions(subjects, DEFAULT_STREAM_RETENTION),
      pino({ level: "silent" }),
    );
    api = startService("api", {
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_API_PORT: "0",
      CROWSNEST_API_LISTEN_HOST: "127.0.0.1",
      CROWSNEST_API_READ_TOKENS: TOKEN,
      CROWSNEST_API_STREAM_MAX_BACKLOG: String(MAX_BACKLOG),
      CROWSNEST_API_STREAM_STALL_TIMEOUT_MS: String(STALL_TIMEOUT_MS),
      CROWSNEST_API_STREAM_HEARTBEAT_MS: "1000",
    });
    const listening = await api.waitForLog((record) => record.msg === "api listening");
    port = listening.port as number;
    // It listens before NATS answers; a live stream needs the bus.
    await api.waitForLog((record) => record.msg === "api connected to the bus");
  });

  afterAll(async () => {
    await api?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
  });

  const metric = async (name: string) => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    const match = new RegExp(`^${name} (\\d+)$`, "m").exec(await response.text());
    return match?.[1] === undefined ? undefined : Number(match[1]);
  };
  /** Publishes samples as fast as the bus takes them (core publish: the stream stores them). */
  const publishSamples = async (count: number) => {
    const today = new Date().toISOString().slice(0, 10);
    for (let i = 0; i < count; i++) {
      const container = { external_id: `${i % 500}`.padStart(64, "c"), name: `load-${i % 500}` };
      const sample = statsFixture({ ts: `${today}T00:00:00.000Z`, container, cpu_percent: i % 100 });
      const encoded = codecs.stats.encode(sample);
      if (!encoded.ok) throw new Error(encoded.detail);
      nc.publish(subjects.stats(sample.host, sample.runtime, container.name), encoded.data);
      if (i % 1000 === 999) await nc.flush();
    }
    await nc.flush();
  };
  const consumers = async () => {
    const jsm = await jetstreamManager(nc);
    return (await jsm.consumers.list(streamName(subjects, "telemetry")).next()).length;
  };

  it("is cut off while the messages flow, the api's memory stays bounded, and it resumes without a loss", async () => {
    const client = openRawStream(port);
    await eventually(() => (client.text().includes("event: ready") ? true : undefined), {
      timeoutMs: 10_000,
      what: "the ready event",
    });
    client.socket.pause();
    expect(await consumers()).toBe(1);

    const baseline = rssBytes(api.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(api.pid));
    }, 100);
    const publishedAt = Date.now();
    try {
      await publishSamples(MESSAGES);

      // Cut off without reading a byte, within a bounded time of falling behind.
      const cutoff = await api.waitForLog((record) => record.msg === "live stream cut off", 30_000);
      expect(cutoff.reason).toBe("slow_client");
      await eventually(async () => ((await metric("crowsnest_api_live_streams")) === 0 ? true : undefined), {
        timeoutMs: 4 * STALL_TIMEOUT_MS + 10_000,
        what: "the stream closed on the api's side",
      });
      expect(await consumers()).toBe(0);
      // Every message reached the bus: the api had all of them to take.
      const jsm = await jetstreamManager(nc);
      await eventually(
        async () =>
          (await jsm.streams.info(streamName(subjects, "telemetry"))).state.messages >= MESSAGES
            ? true
            : undefined,
        { timeoutMs: 30_000, what: "every message in the stream" },
      );
    } finally {
      clearInterval(sampler);
      console.log(
        `api RSS ${Math.round(baseline / 1048576)} MB at ready, peak ${Math.round(peak / 1048576)} MB, ${Math.round(rssBytes(api.pid) / 1048576)} MB at the end; ${Date.now() - publishedAt} ms after publishing began`,
      );
    }
    expect(peak - baseline).toBeLessThan(RSS_GROWTH_BOUND_BYTES);

    // Reading again, the client gets what was sent before the cutoff, then the end of the stream.
    client.socket.resume();
    await eventually(() => (client.ended ? true : undefined), {
      timeoutMs: 20_000,
      what: "the end of the stream",
    });
    const events = client.events();
    const stats = events.filter((event) => event.event === "stats");
    expect(stats.length).toBeGreaterThan(0);
    expect(stats.length).toBeLessThan(MESSAGES);
    // If the cutoff event made it before the connection closed, it is the last one.
    expect(events.slice(0, -1).some((event) => event.event === "cutoff")).toBe(false);
    const lastId = stats.at(-1)?.id ?? "";
    const lastSeq = Number(/^stats\.(\d+)$/.exec(lastId)?.[1]);

    const resumed = openRawStream(port, { "Last-Event-ID": lastId });
    await eventually(() => (resumed.events().some((event) => event.event === "stats") ? true : undefined), {
      timeoutMs: 10_000,
      what: "the first event after resuming",
    });
    expect(resumed.events().find((event) => event.event === "stats")?.id).toBe(`stats.${lastSeq + 1}`);
    resumed.socket.destroy();
  });

  it("gets the cutoff event last, then the end, when it reads again within the grace period", async () => {
    const cutOffBefore = api.logs.filter((record) => record.msg === "live stream cut off").length;
    const client = openRawStream(port);
    await eventually(() => (client.text().includes("event: ready") ? true : undefined), {
      timeoutMs: 10_000,
      what: "the ready event",
    });
    client.socket.pause();
    await publishSamples(20_000);
    await eventually(
      () =>
        api.logs.filter((record) => record.msg === "live stream cut off").length > cutOffBefore
          ? true
          : undefined,
      { timeoutMs: 30_000, what: "the stream cut off" },
    );
    client.socket.resume();
    await eventually(() => (client.ended ? true : undefined), {
      timeoutMs: 20_000,
      what: "the end of the stream",
    });
    const events = client.events();
    const last = events.at(-1);
    expect(last?.event).toBe("cutoff");
    const lastStats = events.filter((event) => event.event === "stats").at(-1);
    expect(JSON.parse(last?.data ?? "{}")).toMatchObject({
      reason: "slow_client",
      max_backlog: MAX_BACKLOG,
      resume_with: lastStats?.id,
    });
    expect(last?.id).toBe(lastStats?.id);
  });
});
