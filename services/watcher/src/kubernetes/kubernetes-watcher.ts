// The watcher of a Kubernetes host (one node, or a whole cluster): informers on pods, nodes
// and services; the events their changes mean and the pod inventory, published through the
// same ordered JetStream queue as Docker's. main.ts builds it from configuration; the
// integration tests and the benchmark build it the same way against a real API server.
import type { ContainerInfo, EventMessage, Logger, Subjects } from "@crowsnest/shared";
import { codecs } from "@crowsnest/shared";
import type { KubeClient } from "@crowsnest/shared/kubernetes";
import { createPublishQueue, type JetStreamPublisher } from "../publishing/publish-queue.ts";
import type { BackoffOptions } from "../retry/capped-backoff.ts";
import { podToContainerInfos } from "./kube-container-mapper.ts";
import { type DiffContext, diffNode, diffPod, diffService } from "./kube-event-differ.ts";
import { createInformer, type InformerChange } from "./kube-informer.ts";
import { createKubeInventoryPublisher } from "./kube-inventory-publisher.ts";
import {
  type NodeState,
  type PodState,
  pruneNode,
  prunePod,
  pruneService,
  type ServiceState,
} from "./kube-objects.ts";

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
  const queue = createPublishQueue({ js: options.js, logger });
  const now = () => new Date().toISOString();

  const publishEvents = (events: readonly EventMessage[]): void => {
    for (const event of events) {
      const encoded = codecs.event.encode(event);
      if (!encoded.ok) {
        logger.error(
          { detail: encoded.detail, event_id: event.event_id },
          "event failed validation; not published",
        );
        continue;
      }
      queue.enqueue({
        subject: subjects.event(host, "kubernetes", event.kind, event.action),
        data: encoded.data,
        msgID: event.event_id,
      });
    }
  };

  const differ =
    <T>(diff: (before: T | undefined, after: T | undefined, context: DiffContext) => EventMessage[]) =>
    (change: InformerChange<T>): void =>
      publishEvents(diff(change.before, change.after, { host, synthesized: change.synthesized, now }));

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
    onChange: differ(diffPod),
    onSynced(reason) {
      podsListed = true;
      inventory.publish(reason === "initial" ? "startup" : "resync");
    },
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

  return {
    start() {
      pods.start();
      nodes.start();
      services.start();
      inventory.start();
    },
    async stop() {
      inventory.stop();
      await Promise.all([pods.stop(), nodes.stop(), services.stop()]);
      await queue.close();
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
