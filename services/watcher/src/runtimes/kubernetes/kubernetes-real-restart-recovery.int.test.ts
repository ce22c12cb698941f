// The Kubernetes watcher as it ships (src/main.ts in a child process) on the test cluster's real
// node, killed with kill -9 while a real container is OOM-killed and restarted by the kubelet:
// started again, it publishes that run's die, oom, the new run's start and the restart exactly
// once each, synthesized, before its startup inventory. The container allocates when the test
// says so (a file in a hostPath directory), so the kill happens while the watcher is down.
// kubernetes-restart-recovery.int.test.ts covers more transitions with statuses it writes itself.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSubjects, type EventMessage } from "@crowsnest/shared";
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
  type KubernetesCluster,
  type TestNamespace,
  testKubeconfigPath,
} from "../../../../../test/support/kubernetes-cluster.ts";
import {
  podStatus,
  realKubeletExpected,
  realPod,
  requireRealKubeletNode,
} from "../../../../../test/support/real-kubelet.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  workloadImage,
} from "../../../../../test/support/test-env.ts";
import { watcherStateBucketName } from "../../recovery/published-state-store.ts";

describe.skipIf(!realKubeletExpected())("the Kubernetes watcher after kill -9, on a real kubelet", () => {
  const prefix = testSubjectPrefix();
  const received: WatcherMessage[] = [];
  const undecodable: string[] = [];
  let nodeName = "";
  let cluster: KubernetesCluster;
  let namespace: TestNamespace;
  let nc: NatsConnection;
  let subscription: Subscription;
  let watcher: ServiceProcess | undefined;
  let triggerDir = "";

  const startWatcher = async () => {
    const before = received.length;
    watcher = startService("watcher", {
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: testKubeconfigPath(),
      CROWSNEST_KUBERNETES_NODE_NAME: nodeName,
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_LOG_LEVEL: "info",
    });
    return await eventually(() => startupInventorySince(received, before), {
      timeoutMs: 30_000,
      what: "the startup inventory",
    });
  };
  const ownEventsSince = (from: number): EventMessage[] =>
    watcherEventsSince(received, from).filter((event) =>
      event.actor.external_id.startsWith(`${namespace.name}/`),
    );

  beforeAll(async () => {
    nodeName = requireRealKubeletNode();
    cluster = connectKubernetesCluster(testKubeconfigPath());
    namespace = await cluster.createNamespace("crowsnest-real-restart");
    triggerDir = await mkdtemp(join(tmpdir(), "crowsnest-real-restart-"));
    nc = await connectTestNats();
    subscription = recordWatcherMessages(nc, `${prefix}.v1`, received, undecodable);
    await nc.flush();
  });

  afterAll(async () => {
    await watcher?.stop();
    subscription?.unsubscribe();
    await namespace?.delete();
    if (triggerDir !== "") await rm(triggerDir, { recursive: true, force: true });
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  });

  it("publishes the OOM kill and restart it missed exactly once, synthesized, before its startup inventory", {
    timeout: 180_000,
  }, async () => {
    const pod = await cluster.create<{ metadata: { uid: string } }>(
      `/api/v1/namespaces/${namespace.name}/pods`,
      realPod(
        {
          name: "hog",
          node: nodeName,
          volumes: [{ name: "trigger", hostPath: { path: triggerDir, type: "Directory" } }],
          containers: [
            {
              name: "app",
              command: [
                "sh",
                "-c",
                "if [ -e /trigger/ran ]; then exec sleep 3600; fi; " +
                  "while [ ! -e /trigger/go ]; do sleep 0.2; done; " +
                  "touch /trigger/ran; exec dd if=/dev/zero of=/dev/null bs=64M count=1",
              ],
              volumeMounts: [{ name: "trigger", mountPath: "/trigger" }],
              resources: { limits: { memory: "32Mi" } },
            },
          ],
        },
        workloadImage(),
      ),
    );
    const externalId = `${namespace.name}/hog/app`;
    await eventually(
      async () => {
        const [status] = (await podStatus(cluster, namespace.name, "hog")).containerStatuses ?? [];
        return status?.state?.running ? true : undefined;
      },
      { timeoutMs: 60_000, what: "the container running" },
    );
    const first = await startWatcher();
    expect(first.containers.find((container) => container.external_id === externalId)).toMatchObject({
      state: "running",
      restart_count: 0,
    });
    // The first run is in the watcher's record before it is killed: not part of what is missed.
    await eventually(
      async () => {
        const kv = await new Kvm(nc).open(watcherStateBucketName(createSubjects(prefix)));
        const entry = await kv.get(`${nodeName}.kubernetes.objects.pod_${pod.metadata.uid}`);
        return entry?.operation === "PUT" && entry.string().includes('"running"') ? true : undefined;
      },
      { timeoutMs: 15_000, what: "the watcher to record the running container" },
    );
    await watcher?.kill();
    const mark = received.length;

    await writeFile(join(triggerDir, "go"), "");
    const status = await eventually(
      async () => {
        const [container] = (await podStatus(cluster, namespace.name, "hog")).containerStatuses ?? [];
        return container?.restartCount === 1 && container.state?.running ? container : undefined;
      },
      { timeoutMs: 90_000, what: "the kubelet to restart the OOM-killed container" },
    );
    expect(status.lastState?.terminated).toMatchObject({ exitCode: 137, reason: "OOMKilled" });

    const inventory = await startWatcher();
    const missed = ownEventsSince(mark);
    expect(missed.map((event) => event.action).sort()).toEqual(["die", "oom", "restart", "start"]);
    expect(missed.every((event) => event.synthesized)).toBe(true);
    expect(missed.find((event) => event.action === "die")).toMatchObject({
      exit_code: 137,
      oom_killed: true,
    });
    // Queued before the startup inventory, on the same ordered queue.
    const inventoryIndex = received.findIndex(
      (entry) => entry.kind === "inventory" && entry.inventory === inventory,
    );
    const lastMissedIndex = received.findLastIndex(
      (entry) => entry.kind === "event" && entry.event.actor.external_id === externalId,
    );
    expect(lastMissedIndex).toBeLessThan(inventoryIndex);
    expect(inventory.containers.find((container) => container.external_id === externalId)).toMatchObject({
      state: "running",
      restart_count: 1,
    });
    expect(undecodable).toEqual([]);
  });
});
