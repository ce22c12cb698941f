// The Kubernetes watcher as it ships (src/main.ts in a child process, DaemonSet mode on a fake
// node of the test API server) killed with kill -9 while its pods change, then started again:
// every transition that happened meanwhile reaches the bus exactly once, synthesized, with the
// id it has live, before the startup inventory; a restart with nothing changed publishes nothing.
// No kubelet runs: the test writes the pods' statuses as the kubelet would.
import { createSubjects, type EventMessage, type InventoryMessage } from "@crowsnest/shared";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteTestStreams,
  recordWatcherMessages,
  startupInventorySince,
  type WatcherMessage,
  watcherEventsSince,
} from "../../../../../test/support/bus-fixtures.ts";
import {
  connectKubernetesCluster,
  type FakeNode,
  type KubernetesCluster,
  type TestNamespace,
  testKubeconfigPath,
  uniqueKubernetesName,
} from "../../../../../test/support/kubernetes-cluster.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
} from "../../../../../test/support/test-env.ts";
import { watcherStateBucketName } from "../../recovery/published-state-store.ts";

const kubeconfig = testKubeconfigPath();

/** A Kubernetes time (whole seconds, as the API server keeps them) `secondsAgo` before now. */
function secondsAgo(seconds: number): string {
  return new Date((Math.floor(Date.now() / 1000) - seconds) * 1000).toISOString();
}

describe.skipIf(kubeconfig === "")("the Kubernetes watcher after kill -9", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const received: WatcherMessage[] = [];
  const undecodable: string[] = [];
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let node: FakeNode;
  let nc: NatsConnection;
  let subscription: Subscription;
  let watcher: ServiceProcess | undefined;
  /** Pod uids by the test's name for them. */
  const uids = new Map<string, string>();

  const podPath = (name: string) => `/api/v1/namespaces/${namespace.name}/pods/${name}`;
  const uidOf = (name: string): string => uids.get(name) ?? "";
  const nameOfUid = (uid: string): string => [...uids].find(([, candidate]) => candidate === uid)?.[0] ?? uid;

  const startWatcher = async (): Promise<InventoryMessage> => {
    const before = received.length;
    watcher = startService("watcher", {
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: kubeconfig,
      CROWSNEST_KUBERNETES_NODE_NAME: node.name,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_LOG_LEVEL: "info",
    });
    // Missed transitions are queued before the startup inventory, on one ordered queue.
    return await eventually(() => startupInventorySince(received, before), {
      timeoutMs: 30_000,
      what: "the startup inventory",
    });
  };

  /** The events received since `from` (an index into `received`). */
  const eventsSince = (from: number): EventMessage[] => watcherEventsSince(received, from);
  /** `<pod> <container> <action>` (or `<pod> <action>` for a pod event), sorted. */
  const transitionsSince = (from: number): string[] =>
    eventsSince(from)
      .map((event) => {
        const [, pod = "", container] = event.actor.external_id.split("/");
        return container === undefined ? `${pod} ${event.action}` : `${pod} ${container} ${event.action}`;
      })
      .sort();

  /** The pod's state as the watcher recorded it, or undefined when it has no record. */
  const recordedPod = async (name: string): Promise<Record<string, unknown> | undefined> => {
    const kv = await new Kvm(nc).open(watcherStateBucketName(subjects));
    const entry = await kv.get(`${node.name}.kubernetes.objects.pod_${uidOf(name)}`);
    if (entry === null || entry.operation !== "PUT") return undefined;
    return entry.json<{ state: Record<string, unknown> }>().state;
  };
  const recordedStatus = async (name: string): Promise<string> =>
    JSON.stringify((await recordedPod(name))?.status);

  const createPod = async (name: string, containers: string[]): Promise<void> => {
    const created = await cluster.create<{ metadata: { uid: string } }>(
      `/api/v1/namespaces/${namespace.name}/pods`,
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { app: "restart-test" } },
        spec: {
          nodeName: node.name,
          containers: containers.map((container) => ({ name: container, image: "registry.invalid/app:1" })),
        },
      },
    );
    uids.set(name, created.metadata.uid);
  };

  /** Acts as the kubelet: the pod's container statuses, as given. */
  const setStatuses = async (name: string, statuses: Record<string, unknown>[]): Promise<void> => {
    await cluster.patch(`${podPath(name)}/status`, {
      status: {
        phase: "Running",
        containerStatuses: statuses.map((status) => ({
          image: "registry.invalid/app:1",
          imageID: "sha256:feed",
          ready: false,
          restartCount: 0,
          ...status,
        })),
      },
    });
  };

  const diesStartedAt = secondsAgo(600);
  const oomStartedAt = secondsAgo(500);

  beforeAll(async () => {
    cluster = connectKubernetesCluster(kubeconfig);
    namespace = await cluster.createNamespace("crowsnest-restart");
    node = await cluster.registerFakeNode({ name: uniqueKubernetesName("restart"), kubeletPort: 10250 });
    await createPod("dies", ["app"]);
    await createPod("starts", ["app", "sidecar"]);
    await createPod("deleted", ["app"]);
    await createPod("oom", ["app"]);
    await setStatuses("dies", [{ name: "app", state: { running: { startedAt: diesStartedAt } } }]);
    await setStatuses("starts", [
      { name: "app", state: { waiting: { reason: "ContainerCreating" } } },
      { name: "sidecar", state: { waiting: { reason: "ContainerCreating" } } },
    ]);
    await setStatuses("deleted", [{ name: "app", state: { running: { startedAt: secondsAgo(400) } } }]);
    await setStatuses("oom", [{ name: "app", state: { running: { startedAt: oomStartedAt } } }]);

    nc = await connectTestNats();
    subscription = recordWatcherMessages(nc, `${prefix}.v1`, received, undecodable);
    await nc.flush();
  }, 120_000);

  afterAll(async () => {
    await watcher?.stop();
    subscription?.unsubscribe();
    await node?.remove();
    await namespace?.delete();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  });

  it("starts on a node it never saw: the inventory, no events", { timeout: 60_000 }, async () => {
    const inventory = await startWatcher();
    expect(inventory.containers.map((container) => container.external_id).sort()).toEqual(
      ["deleted/app", "dies/app", "oom/app", "starts/app", "starts/sidecar"].map(
        (id) => `${namespace.name}/${id}`,
      ),
    );
    expect(eventsSince(0)).toEqual([]);
  });

  it("after kill -9: each transition missed meanwhile once, synthesized, with its live id; nothing published before again", {
    timeout: 120_000,
  }, async () => {
    // A live transition, recorded before the crash: it must not be published again.
    const beforeReady = received.length;
    await setStatuses("dies", [
      { name: "app", ready: true, state: { running: { startedAt: diesStartedAt } } },
    ]);
    const ready = await eventually(() => eventsSince(beforeReady).find((event) => event.action === "ready"), {
      timeoutMs: 15_000,
      what: "the live ready event",
    });
    expect(ready.synthesized).toBe(false);
    await eventually(
      async () => ((await recordedStatus("dies")).includes('"ready":true') ? true : undefined),
      {
        timeoutMs: 15_000,
        what: "the watcher to record the ready container",
      },
    );
    await watcher?.kill();
    const mark = received.length;

    const diesFinishedAt = secondsAgo(60);
    const oomFinishedAt = secondsAgo(50);
    const oomRestartedAt = secondsAgo(49);
    const startsAt = [secondsAgo(40), secondsAgo(39)] as const;
    await setStatuses("dies", [
      {
        name: "app",
        state: {
          terminated: { exitCode: 1, reason: "Error", startedAt: diesStartedAt, finishedAt: diesFinishedAt },
        },
      },
    ]);
    await setStatuses("starts", [
      { name: "app", state: { running: { startedAt: startsAt[0] } } },
      { name: "sidecar", state: { running: { startedAt: startsAt[1] } } },
    ]);
    await cluster.delete(podPath("deleted"), { gracePeriodSeconds: 0 });
    await eventually(
      async () => ((await cluster.request("GET", podPath("deleted"))).status === 404 ? true : undefined),
      {
        timeoutMs: 15_000,
        what: "the pod to be gone",
      },
    );
    await setStatuses("oom", [
      {
        name: "app",
        restartCount: 1,
        state: { running: { startedAt: oomRestartedAt } },
        lastState: {
          terminated: {
            exitCode: 137,
            reason: "OOMKilled",
            startedAt: oomStartedAt,
            finishedAt: oomFinishedAt,
          },
        },
      },
    ]);

    const inventory = await startWatcher();
    expect(transitionsSince(mark)).toEqual(
      [
        "dies app die",
        "dies app unready",
        "starts app start",
        "starts sidecar start",
        "deleted delete",
        "oom app die",
        "oom app oom",
        "oom app start",
        "oom app restart",
      ].sort(),
    );
    const events = eventsSince(mark);
    expect(events.every((event) => event.synthesized)).toBe(true);
    expect(new Set(events.map((event) => event.event_id)).size).toBe(events.length);
    expect(events.some((event) => event.event_id === ready.event_id)).toBe(false);
    // The ids the live watch gives the same facts (kube-event-differ), so a subscriber that saw
    // one before can deduplicate; the times are the runs' own.
    const byId = new Map(events.map((event) => [event.event_id, event]));
    const expectEvent = (id: string, fields: Partial<EventMessage>) =>
      expect(byId.get(id), `${id} of ${nameOfUid(id.split("/")[1] ?? "")}`).toMatchObject(fields);
    expectEvent(`kubernetes/${uidOf("dies")}/app/die/${diesFinishedAt}`, {
      exit_code: 1,
      oom_killed: false,
      ts: diesFinishedAt,
    });
    expectEvent(`kubernetes/${uidOf("starts")}/app/start/${startsAt[0]}`, { ts: startsAt[0] });
    expectEvent(`kubernetes/${uidOf("starts")}/sidecar/start/${startsAt[1]}`, { ts: startsAt[1] });
    expectEvent(`kubernetes/${uidOf("deleted")}/delete`, { kind: "pod" });
    expectEvent(`kubernetes/${uidOf("oom")}/app/die/${oomFinishedAt}`, { exit_code: 137, oom_killed: true });
    expectEvent(`kubernetes/${uidOf("oom")}/app/oom/${oomFinishedAt}`, { ts: oomFinishedAt });
    expectEvent(`kubernetes/${uidOf("oom")}/app/start/${oomRestartedAt}`, { ts: oomRestartedAt });
    expectEvent(`kubernetes/${uidOf("oom")}/app/restart/1`, { ts: oomRestartedAt });
    // All of them before the startup inventory, which already shows the new states.
    const inventoryIndex = received.findIndex(
      (entry) => entry.kind === "inventory" && entry.inventory.snapshot_id === inventory.snapshot_id,
    );
    expect(received.slice(inventoryIndex).some((entry) => entry.kind === "event")).toBe(false);
    expect(inventory.containers.map((container) => container.external_id).sort()).toEqual(
      ["dies/app", "oom/app", "starts/app", "starts/sidecar"].map((id) => `${namespace.name}/${id}`),
    );
  });

  it("after another kill -9 with nothing changed: nothing", { timeout: 90_000 }, async () => {
    // Once the comparison is recorded (the deleted pod forgotten, the others as listed).
    await eventually(
      async () =>
        (await recordedPod("deleted")) === undefined &&
        (await recordedStatus("dies")).includes('"terminated"') &&
        (await recordedStatus("oom")).includes('"restartCount":1')
          ? true
          : undefined,
      { timeoutMs: 15_000, what: "the watcher to record what it published" },
    );
    await watcher?.kill();
    const mark = received.length;
    await startWatcher();
    expect(eventsSince(mark)).toEqual([]);
  });

  it("after a SIGTERM with nothing changed: nothing", { timeout: 90_000 }, async () => {
    expect(await watcher?.stop()).toBe(0);
    const mark = received.length;
    await startWatcher();
    expect(eventsSince(mark)).toEqual([]);
    expect(undecodable).toEqual([]);
    expect(watcher?.otherOutput).toEqual([]);
  });
});
