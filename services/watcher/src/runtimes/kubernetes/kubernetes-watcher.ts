// The watcher of a Kubernetes host (one node, or a whole cluster): informers on pods, nodes
// and services; the events their changes mean and the pod inventory, published through the
// same ordered JetStream queue as Docker's. What it published about each pod is recorded on the
// bus (recovery/), so that after a restart the first list is compared with it and every
// transition missed meanwhile is published once, with the id it would have had live. main.ts
// builds it from configuration; the integration tests and the benchmark build it the same way
// against a real API server.
import type { ContainerInfo, EventMessage, Logger, Subjects } from "@crowsnest/shared/agent";
import type { KubeClient } from "@crowsnest/shared/kubernetes";
import type { JetStreamPublisher } from "@crowsnest/shared/publishing";
import type { BackoffOptions } from "@crowsnest/shared/util/capped-backoff";
import { createEventPublisher } from "../../publishing/event-publisher.ts";
import { createWatcherQueue, DEFAULT_PUBLISH_STOP_TIMEOUT_MS } from "../../publishing/watcher-queue.ts";
import { missedTransitions } from "../../recovery/missed-transitions.ts";
import type { PublishedStateStore } from "../../recovery/published-state-store.ts";
import { podToContainerInfos } from "./kube-container-mapper.ts";
import { type DiffContext, diffNode, diffPod, diffService } from "./kube-event-differ.ts";
import { createInformer, type InformerChange, type SyncReason } from "./kube-informer.ts";
import { createKubeInventoryPublisher } from "./kube-inventory-publisher.ts";
import {
  type NodeState,
  type PodState,
  pruneNode,
  prunePod,
  pruneService,
  type ServiceState,
} from "./kube-objects.ts";
import { podRecordKey } from "./kube-pod-record.ts";

export interface KubernetesWatcherOptions {
  client: Pick<KubeClient, "getJson" | "watch">;
  js: JetStreamPublisher;
  subjects: Subjects;
  /** The host token of every subject. */
  host: string;
  logger: Logger;
  /** Only this node's pods and node; undefined: the whole cluster. */
  nodeName: string | undefined;
  inventoryIntervalMs: number;
  maxPayloadBytes: () => number;
  /** A watch silent for this long is restarted. */
  watchStallMs: number;
  /** Deadline of each list call. */
  requestTimeoutMs: number;
  /** Overrides of the informers' backoff (tests use short delays). */
  backoff?: BackoffOptions;
  /**
   * Where the watcher records what it published about each pod and reads it back at start, to
   * publish what it missed while it was not running; undefined: the first list is a baseline.
   */
  publishedState?: PublishedStateStore<PodState>;
  /** How long stop() waits for the last records to be written. */
  stateCloseTimeoutMs?: number;
  /** How long stop() keeps sending what is queued before it gives the rest up. */
  publishStopTimeoutMs?: number;
}

/** A container the watcher knows, as the RPC responders look it up. */
export interface KnownContainer {
  readonly pod: PodState;
  readonly container: string;
  readonly info: ContainerInfo;
}

export interface KubernetesWatcher {
  start(): void;
  stop(): Promise<void>;
  /** Whether the pod informer has listed and its last call succeeded. */
  isConnected(): boolean;
  /** By external id `namespace/pod/container`, or by name `pod/container` when that is unique. */
  findContainer(reference: string): KnownContainer | "ambiguous" | undefined;
}

export function createKubernetesWatcher(options: KubernetesWatcherOptions): KubernetesWatcher {
  const { client, subjects, host, logger, nodeName } = options;
  const queue = createWatcherQueue(options.js, logger);
  const now = () => new Date().toISOString();

  const publish = createEventPublisher({ queue, subjects, logger });
  const publishEvents = (events: readonly EventMessage[]): void => {
    for (const event of events) publish(event);
  };

  const differ =
    <T>(diff: (before: T | undefined, after: T | undefined, context: DiffContext) => EventMessage[]) =>
    (change: InformerChange<T>): void =>
      publishEvents(diff(change.before, change.after, { host, synthesized: change.synthesized, now }));

  const { publishedState } = options;
  /** What was recorded before the last stop, by uid, until the first list is compared with it. */
  let recovered: ReadonlyMap<string, PodState> | undefined;

  /**
   * A pod's change: its events, then, once they are stored, its state recorded (or forgotten).
   * A change that brings no new fact (most status writes) is not recorded: comparing the older
   * record with a later state yields the same events, so the bucket is written about as often as
   * events are published.
   */
  const onPodChange = (change: InformerChange<PodState>): void => {
    const events = diffPod(change.before, change.after, { host, synthesized: change.synthesized, now });
    publishEvents(events);
    if (publishedState === undefined) return;
    const { before, after } = change;
    if (after === undefined) {
      if (before !== undefined) queue.afterStored(() => publishedState.forget(podRecordKey(before.uid)));
    } else if (events.length > 0 || before === undefined) {
      queue.afterStored(() => publishedState.record(podRecordKey(after.uid), after));
    }
  };

  /**
   * After a list: at the first one after a restart, every transition missed meanwhile (the
   * difference between the record and the list, by the differ that makes the live events, so
   * with their live ids); then, once the inventory is stored, every pod recorded.
   */
  const onPodsSynced = (reason: SyncReason, resourceVersion: string): void => {
    if (reason === "initial" && recovered !== undefined) {
      const missed = missedTransitions(recovered, pods.items, (_uid, before, after) =>
        diffPod(before, after, { host, synthesized: true, now }),
      );
      logger.info(
        { recorded_pods: recovered.size, pods: pods.items.size, missed: missed.length },
        "compared the pods with what was published before the watcher stopped",
      );
      recovered = undefined;
      publishEvents(missed);
    }
    podsListed = true;
    inventory.publish(reason === "initial" ? "startup" : "resync");
    if (publishedState === undefined) return;
    const all = new Map([...pods.items.values()].map((pod) => [podRecordKey(pod.uid), pod]));
    queue.afterStored(() => {
      publishedState.recordAll(all);
      publishedState.recordCursor(resourceVersion);
    });
  };

  /** Reads back what was recorded before the last stop; nothing (a first start, or unreadable): a baseline. */
  const recover = async (): Promise<void> => {
    if (publishedState === undefined) return;
    try {
      const { entries, cursor } = await publishedState.load();
      // No cursor: no list was ever recorded for this host, there is nothing to compare with.
      if (cursor === undefined) return;
      recovered = new Map([...entries.values()].map(({ state }) => [state.uid, state]));
      logger.info(
        { pods: recovered.size, resource_version: cursor },
        "resuming from what was published before the watcher stopped",
      );
    } catch (error) {
      logger.warn(
        { err: error },
        "cannot read what was published before the watcher stopped; transitions missed meanwhile are not published",
      );
    }
  };

  const shared = {
    client,
    logger,
    stallMs: options.watchStallMs,
    requestTimeoutMs: options.requestTimeoutMs,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
  };
  let podsListed = false;
  const pods = createInformer<PodState>({
    ...shared,
    resource: "pods",
    path: "/api/v1/pods",
    fieldSelector: nodeName === undefined ? undefined : `spec.nodeName=${nodeName}`,
    prune: prunePod,
    onChange: onPodChange,
    onSynced: onPodsSynced,
  });
  const nodes = createInformer<NodeState>({
    ...shared,
    resource: "nodes",
    path: "/api/v1/nodes",
    fieldSelector: nodeName === undefined ? undefined : `metadata.name=${nodeName}`,
    prune: pruneNode,
    onChange: differ(diffNode),
  });
  const services = createInformer<ServiceState>({
    ...shared,
    resource: "services",
    path: "/api/v1/services",
    prune: pruneService,
    onChange: differ(diffService),
  });
  const inventory = createKubeInventoryPublisher({
    queue,
    subjects,
    host,
    logger,
    intervalMs: options.inventoryIntervalMs,
    maxPayloadBytes: options.maxPayloadBytes,
    containers: () => (podsListed ? [...pods.items.values()].flatMap(podToContainerInfos) : undefined),
  });

  let starting: Promise<void> | undefined;
  let stopped = false;
  return {
    start() {
      starting ??= recover().then(() => {
        if (stopped) return;
        pods.start();
        nodes.start();
        services.start();
        inventory.start();
      });
    },
    async stop() {
      stopped = true;
      await starting;
      inventory.stop();
      await Promise.all([pods.stop(), nodes.stop(), services.stop()]);
      await queue.stop(options.publishStopTimeoutMs ?? DEFAULT_PUBLISH_STOP_TIMEOUT_MS);
      await publishedState?.close(options.stateCloseTimeoutMs ?? 3000);
    },
    isConnected: () => pods.isConnected(),
    findContainer(reference) {
      const parts = reference.split("/");
      const [first, second, third] = parts;
      let found: KnownContainer | undefined;
      for (const pod of pods.items.values()) {
        const matches =
          parts.length === 3
            ? pod.namespace === first && pod.name === second
            : parts.length === 2 && pod.name === first;
        if (!matches) continue;
        const container = parts.length === 3 ? third : second;
        const info = podToContainerInfos(pod).find(
          (candidate) => candidate.kubernetes?.container === container,
        );
        if (info === undefined || container === undefined) continue;
        if (found !== undefined) return "ambiguous";
        found = { pod, container, info };
      }
      return found;
    },
  };
}
