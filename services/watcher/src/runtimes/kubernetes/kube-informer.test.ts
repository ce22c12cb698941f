import { createLogger } from "@crowsnest/shared";
import { KubeApiError, type Query, type RequestOptions, type WatchEvent } from "@crowsnest/shared/kubernetes";
import { describe, expect, it } from "vitest";
import { createInformer, type InformerChange } from "./kube-informer.ts";
import { pruneService, type ServiceState } from "./kube-objects.ts";

const logger = createLogger({ service: "test", level: "silent" });

const service = (uid: string, resourceVersion: string) => ({
  metadata: { uid, name: `svc-${uid}`, namespace: "default", resourceVersion },
});
const list = (resourceVersion: string, items: unknown[], continueToken?: string) => ({
  metadata: { resourceVersion, ...(continueToken === undefined ? {} : { continue: continueToken }) },
  items,
});

type WatchScript = { events: WatchEvent[]; ending: "end" | "hang" | KubeApiError };

/** An API server scripted call by call: lists answer in order, each watch plays one script. */
class FakeApi {
  readonly lists: unknown[];
  readonly watches: WatchScript[];
  readonly listQueries: Query[] = [];
  readonly watchQueries: Query[] = [];

  constructor(lists: unknown[], watches: WatchScript[]) {
    this.lists = lists;
    this.watches = watches;
  }

  async getJson<T>(_path: string, options: RequestOptions = {}): Promise<T> {
    this.listQueries.push(options.query ?? {});
    const next = this.lists.shift();
    if (next === undefined) throw new Error("no list scripted");
    if (next instanceof Error) throw next;
    return next as T;
  }

  async *watch(_path: string, options: RequestOptions = {}): AsyncGenerator<WatchEvent> {
    this.watchQueries.push(options.query ?? {});
    const script = this.watches.shift() ?? { events: [], ending: "hang" };
    for (const event of script.events) yield event;
    if (script.ending instanceof KubeApiError) throw script.ending;
    if (script.ending === "hang") {
      await new Promise<void>((resolve) =>
        options.signal?.addEventListener("abort", () => resolve(), { once: true }),
      );
    }
  }
}

function start(api: FakeApi, stallMs = 60_000) {
  const changes: InformerChange<ServiceState>[] = [];
  const syncs: string[] = [];
  const informer = createInformer<ServiceState>({
    client: api,
    resource: "services",
    path: "/api/v1/services",
    prune: pruneService,
    onChange: (change) => changes.push(change),
    onSynced: (reason) => syncs.push(reason),
    logger,
    stallMs,
    requestTimeoutMs: 1000,
    pageSize: 2,
    backoff: { initialMs: 1, maxMs: 5 },
  });
  informer.start();
  return { informer, changes, syncs };
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 3000) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const summary = (changes: InformerChange<ServiceState>[]) =>
  changes.map(
    (change) =>
      `${change.before?.resourceVersion ?? "-"}→${change.after?.resourceVersion ?? "-"}${change.synthesized ? "*" : ""}`,
  );

describe("informer", () => {
  it("lists page by page, then watches from the list's resourceVersion with bookmarks and resumes after the watch ends", async () => {
    const api = new FakeApi(
      [list("10", [service("a", "3"), service("b", "4")], "page-2"), list("10", [service("c", "5")])],
      [
        {
          events: [
            { type: "ADDED", object: service("d", "11") },
            { type: "BOOKMARK", object: { metadata: { resourceVersion: "15" } } },
          ],
          ending: "end",
        },
        { events: [{ type: "DELETED", object: service("a", "16") }], ending: "hang" },
      ],
    );
    const { informer, changes, syncs } = start(api);
    await until(() => changes.length >= 3);
    await informer.stop();
    expect(api.listQueries).toEqual([
      { limit: 2, continue: undefined },
      { limit: 2, continue: "page-2" },
    ]);
    expect(api.watchQueries.map((query) => query.resourceVersion)).toEqual(["10", "15"]);
    expect(api.watchQueries[0]).toMatchObject({ allowWatchBookmarks: true, timeoutSeconds: 40 });
    expect(syncs).toEqual(["initial"]);
    expect(summary(changes)).toEqual(["-→11", "3→16", "16→-"]);
    expect([...informer.items.keys()].sort()).toEqual(["b", "c", "d"]);
    expect(informer.isConnected()).toBe(true);
  });

  it("re-lists on 410 Gone and reports what changed meanwhile as synthesized changes", async () => {
    const gone = new KubeApiError(410, "Expired", "too old resource version");
    const api = new FakeApi(
      [
        list("10", [service("a", "3"), service("b", "4")]),
        list("30", [service("b", "25"), service("c", "26")]),
      ],
      [{ events: [], ending: gone }],
    );
    const { informer, changes, syncs } = start(api);
    await until(() => syncs.length === 2);
    await informer.stop();
    expect(syncs).toEqual(["initial", "relist"]);
    expect(summary(changes)).toEqual(["3→-*", "4→25*", "-→26*"]);
    expect(api.watchQueries.map((query) => query.resourceVersion)).toEqual(["10", "30"]);
  });

  it("backs off and retries a failing list, and restarts a watch that goes silent", async () => {
    const api = new FakeApi(
      [new Error("connection refused"), list("10", [])],
      [
        { events: [], ending: "hang" },
        { events: [{ type: "ADDED", object: service("a", "12") }], ending: "hang" },
      ],
    );
    const { informer, changes } = start(api, 100);
    await until(() => changes.length === 1);
    await informer.stop();
    expect(api.watchQueries.map((query) => query.resourceVersion)).toEqual(["10", "10"]);
    expect(summary(changes)).toEqual(["-→12"]);
  });

  it("resumes a watch that broke from the last event it brought, so nothing is replayed", async () => {
    const api = new FakeApi(
      [list("10", [])],
      [
        {
          events: [{ type: "ADDED", object: service("a", "11") }],
          ending: new KubeApiError(500, null, "connection reset"),
        },
        { events: [{ type: "MODIFIED", object: service("a", "12") }], ending: "hang" },
      ],
    );
    const { informer, changes } = start(api);
    await until(() => changes.length === 2);
    await informer.stop();
    expect(api.watchQueries.map((query) => query.resourceVersion)).toEqual(["10", "11"]);
    expect(summary(changes)).toEqual(["-→11", "11→12"]);
  });

  it("skips malformed objects without stopping", async () => {
    const api = new FakeApi(
      [list("10", [{ metadata: {} }, service("a", "3")])],
      [
        {
          events: [
            { type: "MODIFIED", object: { nonsense: true } },
            { type: "MODIFIED", object: service("a", "11") },
          ],
          ending: "hang",
        },
      ],
    );
    const { informer, changes } = start(api);
    await until(() => changes.length === 1);
    await informer.stop();
    expect(summary(changes)).toEqual(["3→11"]);
  });
});
