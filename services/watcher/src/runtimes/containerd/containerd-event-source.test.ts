// The containerd event source against a scripted fake of containerd's event service: the
// subscription is marked only once the source's own probe comes back, events after the mark
// wait for the core's look, and a broken stream is reopened and marked again for a resync.
import { createLogger, type EventMessage } from "@crowsnest/shared";
import {
  type ContainerdClient,
  type ContainerdEvent,
  SUBSCRIPTION_PROBE_TOPIC,
  SUBSCRIPTION_PROBE_TYPE,
} from "@crowsnest/shared/containerd";
import { afterEach, describe, expect, it } from "vitest";
import type { RuntimeEventSource } from "../../following/runtime-event-source.ts";
import { createContainerIdentities } from "./container-identities.ts";
import { createContainerdEventSource } from "./containerd-event-source.ts";
import { namespaceSelection } from "./containerd-namespaces.ts";

const logger = createLogger({ service: "watcher", level: "silent" });

/** One open subscription of the fake: what the test pushes, and how it ends. */
interface FakeStream {
  push(event: ContainerdEvent): void;
  /** Events pushed and not read by the source yet. */
  unread(): number;
  fail(error: Error): void;
}

function fakeContainerd() {
  const streams: FakeStream[] = [];
  const filters: (readonly string[])[] = [];
  const fake = {
    streams,
    filters,
    /** Probes published before the subscription is "registered" are lost, as on a real server. */
    probesToLose: 0,
    subscribe(requested: readonly string[], signal: AbortSignal): AsyncGenerator<ContainerdEvent> {
      filters.push(requested);
      const queue: ContainerdEvent[] = [];
      let failure: Error | undefined;
      let wake = (): void => undefined;
      const stream: FakeStream = {
        unread: () => queue.length,
        push(event) {
          queue.push(event);
          wake();
        },
        fail(error) {
          failure = error;
          wake();
        },
      };
      streams.push(stream);
      return (async function* () {
        signal.addEventListener("abort", () => wake(), { once: true });
        while (!signal.aborted) {
          const next = queue.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          if (failure !== undefined) throw failure;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      })();
    },
    async publishSubscriptionProbe(namespace: string, nonce: string): Promise<void> {
      if (fake.probesToLose > 0) {
        fake.probesToLose -= 1;
        return;
      }
      streams.at(-1)?.push({
        namespace,
        topic: SUBSCRIPTION_PROBE_TOPIC,
        timestamp: { seconds: 1796491866, nanos: 0 },
        type: SUBSCRIPTION_PROBE_TYPE,
        payload: { nonce },
      });
    },
    async version() {
      return { version: "1.6.20", revision: "test" };
    },
    async container(): Promise<undefined> {
      return undefined;
    },
    async metrics(): Promise<[]> {
      return [];
    },
  } satisfies Pick<
    ContainerdClient,
    "subscribe" | "publishSubscriptionProbe" | "version" | "container" | "metrics"
  > &
    Record<string, unknown>;
  return fake;
}

function taskEvent(topic: string, id: string, seconds: number): ContainerdEvent {
  return {
    namespace: "default",
    topic,
    timestamp: { seconds, nanos: 0 },
    type: "containerd.events.TaskStart",
    payload: { container_id: id, pid: 7 },
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("createContainerdEventSource", () => {
  let source: RuntimeEventSource | undefined;
  afterEach(async () => {
    await source?.stop();
    source = undefined;
  });

  function setup() {
    const containerd = fakeContainerd();
    const seen: string[] = [];
    let releaseLook = (): void => undefined;
    let holdLooks = false;
    source = createContainerdEventSource({
      client: containerd,
      namespaces: namespaceSelection(undefined),
      identities: createContainerIdentities({ client: containerd, logger, timeoutMs: 1000 }),
      host: "h1",
      logger,
      timeoutMs: 1000,
      probeRetryMs: 5,
      reconnect: { initialMs: 5, maxMs: 20 },
    });
    source.start(
      {
        async subscribed(reason) {
          seen.push(`subscribed:${reason}`);
          if (holdLooks) await new Promise<void>((resolve) => (releaseLook = resolve));
          seen.push(`looked:${reason}`);
        },
        event: (event: EventMessage) => void seen.push(`${event.action}:${event.actor.external_id}`),
        repeated: () => undefined,
      },
      undefined,
    );
    return {
      containerd,
      seen,
      source,
      holdLooks: () => {
        holdLooks = true;
      },
      releaseLook: () => releaseLook(),
    };
  }

  it("marks the subscription once its own probe comes back, however many are lost first", async () => {
    const { containerd, seen, source } = setup();
    containerd.probesToLose = 3;
    await until(() => seen.includes("looked:startup"), "the startup look");
    expect(source.isConnected()).toBe(true);
    expect(containerd.filters[0]).toEqual(["namespace!=moby,namespace!=k8s.io"]);
  });

  it("delivers events before the mark first, and holds later ones until the core's look is done", async () => {
    const { containerd, seen, holdLooks, releaseLook } = setup();
    holdLooks();
    containerd.probesToLose = 1_000_000;
    await until(() => containerd.streams.length === 1, "the subscription");
    containerd.streams[0]?.push(taskEvent("/tasks/start", "before", 1796491860));
    containerd.probesToLose = 0;
    await until(() => seen.includes("subscribed:startup"), "the mark");
    containerd.streams[0]?.push(taskEvent("/tasks/start", "after", 1796491870));
    // The stream is read on, but the event waits for the look (given turns enough to be handled).
    await until(() => containerd.streams[0]?.unread() === 0, "the event read");
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(["start:before", "subscribed:startup"]);
    releaseLook();
    await until(() => seen.includes("start:after"), "the held event");
    expect(seen).toEqual(["start:before", "subscribed:startup", "looked:startup", "start:after"]);
  });

  it("reopens a broken stream and marks it again for a resync; not connected meanwhile", async () => {
    const { containerd, seen, source } = setup();
    await until(() => seen.includes("looked:startup"), "the startup look");
    containerd.probesToLose = 1_000_000;
    containerd.streams[0]?.fail(new Error("14 UNAVAILABLE: Connection dropped"));
    await until(() => containerd.streams.length === 2, "the resubscription");
    expect(source.isConnected()).toBe(false);
    containerd.probesToLose = 0;
    await until(() => seen.includes("looked:resync"), "the resync look");
    expect(source.isConnected()).toBe(true);
    expect(seen.filter((entry) => entry.startsWith("subscribed"))).toEqual([
      "subscribed:startup",
      "subscribed:resync",
    ]);
  });

  it("leaves out events of namespaces it does not report", async () => {
    const { containerd, seen } = setup();
    await until(() => seen.includes("looked:startup"), "the startup look");
    containerd.streams[0]?.push({ ...taskEvent("/tasks/start", "pod-c", 1796491880), namespace: "k8s.io" });
    containerd.streams[0]?.push(taskEvent("/tasks/start", "mine", 1796491881));
    await until(() => seen.includes("start:mine"), "the own namespace's event");
    expect(seen).not.toContain("start:pod-c");
    expect(seen).not.toContain("start:k8s.io/pod-c");
  });
});
