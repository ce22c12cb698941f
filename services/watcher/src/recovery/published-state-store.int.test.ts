// The watcher-state bucket on the real NATS server: what one watcher records, the next reads
// back, per host and runtime, whatever else is in the bucket.
import { createLogger, createSubjects, type Runtime } from "@crowsnest/shared";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../../../../test/support/bus-fixtures.ts";
import { connectTestNats, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import {
  createPublishedStateStore,
  openWatcherStateBucket,
  type PublishedStateStore,
  type StateCodec,
  watcherStateBucketName,
} from "./published-state-store.ts";

/** A toy runtime state: a phase word. */
const codec: StateCodec<string> = {
  toJson: (state) => ({ phase: state }),
  fromJson: (json) =>
    typeof json === "object" && json !== null && typeof (json as { phase?: unknown }).phase === "string"
      ? (json as { phase: string }).phase
      : undefined,
};

describe("the watcher-state bucket", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const logger = createLogger({ service: "watcher", level: "silent" });
  let nc: NatsConnection;
  const stores: PublishedStateStore<string>[] = [];

  const open = (host: string, runtime: Runtime = "docker") => {
    const store = createPublishedStateStore({
      openBucket: () => openWatcherStateBucket(jetstream(nc), subjects, { replicas: 1, logger }),
      host,
      runtime,
      codec,
      logger,
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    nc = await connectTestNats();
  });

  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close(1000)));
    await deleteTestStreams(nc, prefix);
    await nc.close();
  });

  it("records the cursor of a host without containers, and closes", async () => {
    const empty = open("empty-host", "containerd");
    await empty.load();
    // What a look at a host with no container records: nothing, then the cursor.
    empty.recordAll(new Map());
    empty.recordCursor("42");
    await empty.close(10_000);
    expect((await open("empty-host", "containerd").load()).cursor).toBe("42");
  });

  it("reads back the newest state of each object and the cursor, per host and runtime", async () => {
    const first = open("node-1.example");
    expect(await first.load()).toEqual({
      entries: new Map(),
      cursor: undefined,
      cursorRecordedAtMs: undefined,
    });
    const before = Date.now();
    first.record("aaa", "created");
    first.record("aaa", "running");
    first.record("b/c d", "running");
    first.record("gone", "running");
    first.recordCursor("17");
    await first.flush();
    first.forget("gone");
    first.recordCursor("18");
    await first.flush();
    // Another host and another runtime of the same host keep their own.
    const other = open("node-2");
    other.record("aaa", "paused");
    other.recordCursor("99");
    const kube = open("node-1.example", "kubernetes");
    kube.record("ns/pod", "running");
    await Promise.all([other.flush(), kube.flush()]);

    const { entries, cursor, cursorRecordedAtMs } = await open("node-1.example").load();
    expect(cursor).toBe("18");
    expect(cursorRecordedAtMs).toBeGreaterThanOrEqual(before - 1000);
    expect([...entries].map(([key, entry]) => [key, entry.state]).sort()).toEqual([
      ["aaa", "running"],
      ["b/c d", "running"],
    ]);
    expect(entries.get("aaa")?.recordedAtMs).toBeGreaterThanOrEqual(before - 1000);
    expect((await open("node-2").load()).cursor).toBe("99");
  });

  it("replaces every object at once, and skips values it cannot use", async () => {
    const store = open("node-3");
    store.record("a", "running");
    store.record("b", "running");
    await store.flush();
    const next = open("node-3");
    await next.load();
    next.recordAll(new Map([["c", "paused"]]));
    await next.flush();
    const bucket = await openWatcherStateBucket(jetstream(nc), subjects, { replicas: 1, logger });
    await bucket.put("node-3.docker.objects.junk", new TextEncoder().encode("{not json"));
    await bucket.put(
      "node-3.docker.objects.d",
      new TextEncoder().encode(
        JSON.stringify({
          v: 1,
          host: "node-3",
          runtime: "docker",
          key: "d",
          recorded_at: new Date().toISOString(),
          state: 5,
        }),
      ),
    );
    const { entries } = await open("node-3").load();
    expect([...entries.keys()]).toEqual(["c"]);
    expect(watcherStateBucketName(subjects)).toBe(`${prefix.toUpperCase()}_WATCHER_STATE`);
  });

  it("flushes at once when a replacement has nothing to write (a host without containers)", async () => {
    const store = open("node-5");
    await store.load();
    store.recordAll(new Map());
    // Before the fix, this awaited a settled promise in an endless loop (and hung the test worker).
    await store.flush();
    expect((await open("node-5").load()).entries).toEqual(new Map());
  });

  it("replaces every object also when the bucket was not read first (it could not be at start)", async () => {
    const before = open("node-4");
    before.record("old", "running");
    before.record("kept", "running");
    await before.flush();
    const unread = open("node-4");
    unread.recordAll(new Map([["kept", "paused"]]));
    await unread.flush();
    const { entries } = await open("node-4").load();
    expect([...entries].map(([key, entry]) => [key, entry.state])).toEqual([["kept", "paused"]]);
  });
});
