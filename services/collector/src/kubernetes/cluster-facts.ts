// The pod and node objects the collector needs beside the kubelet's figures (limits, container
// order, node capacity, which nodes exist), fetched from the API server and reused for a bounded
// age: a pod's limits cannot change without a new pod, so a minute-old list is right for every
// pod it has. A pod the list does not have yet (or a new pod under an old name) triggers an early
// refresh, at most every EARLY_REFRESH_MIN_MS. A failed fetch keeps the previous answer.
import type { Logger } from "@crowsnest/shared";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { KubernetesApiPort } from "./kubernetes-api-port.ts";
import {
  type NodeFacts,
  nodeFactsFrom,
  nodeFactsFromList,
  type PodFacts,
  podFactsFromList,
  podKey,
} from "./pod-facts.ts";

/** A pod the list lacks makes it fetched again, but not more often than this. */
export const EARLY_REFRESH_MIN_MS = 10_000;

export interface ClusterFactsOptions {
  api: KubernetesApiPort;
  /** The one node sampled; undefined: every node of the cluster. */
  nodeName: string | undefined;
  timeoutMs: number;
  /** How long a fetched pod or node list is reused. */
  maxAgeMs: number;
  logger: Logger;
  now?: () => number;
}

interface Fetched<T> {
  value: T;
  fetchedAtMs: number;
}

export class ClusterFacts {
  readonly #options: ClusterFactsOptions;
  readonly #now: () => number;
  readonly #podsOutage: OutageLog;
  readonly #nodesOutage: OutageLog;
  #pods: Fetched<Map<string, PodFacts>> | undefined;
  #nodes: Fetched<Map<string, NodeFacts>> | undefined;
  #lastPodAttemptMs = Number.NEGATIVE_INFINITY;

  constructor(options: ClusterFactsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#podsOutage = new OutageLog({
      logger: options.logger,
      failureMessage: "cannot list pods; limits and network attribution use the last list (or stay unknown)",
      recoveryMessage: "pods listed again",
    });
    this.#nodesOutage = new OutageLog({
      logger: options.logger,
      failureMessage:
        "cannot read nodes; their CPU counts (and, cluster-wide, which nodes there are) come from the last answer, if any",
      recoveryMessage: "nodes read again",
    });
  }

  /** Fetches the pod and node lists that are older than the maximum age; never throws. */
  async refreshStale(): Promise<void> {
    const now = this.#now();
    const stale = (fetched: Fetched<unknown> | undefined) =>
      fetched === undefined || now - fetched.fetchedAtMs >= this.#options.maxAgeMs;
    await Promise.all([
      stale(this.#nodes) ? this.#fetchNodes() : undefined,
      stale(this.#pods) ? this.#fetchPods() : undefined,
    ]);
  }

  /** Fetches the pod list again because a pod is missing from it, unless that was done just now. */
  async refreshPodsEarly(): Promise<void> {
    if (this.#now() - this.#lastPodAttemptMs < EARLY_REFRESH_MIN_MS) return;
    await this.#fetchPods();
  }

  /** The nodes to sample: the configured one, or every node the API server lists (undefined: none known yet). */
  nodeNames(): string[] | undefined {
    if (this.#options.nodeName !== undefined) return [this.#options.nodeName];
    return this.#nodes === undefined ? undefined : [...this.#nodes.value.keys()];
  }

  node(name: string): NodeFacts | undefined {
    return this.#nodes?.value.get(name);
  }

  /**
   * The pod the kubelet reports as `namespace/name` with `uid`; undefined when the list does not
   * have it, or has another pod of that name (a recreated one). A static pod's mirror has its own
   * uid, so its uid is not compared.
   */
  pod(namespace: string, name: string, uid: string | null): PodFacts | undefined {
    const facts = this.#pods?.value.get(podKey(namespace, name));
    if (facts === undefined) return undefined;
    if (uid !== null && facts.uid !== null && facts.uid !== uid && !facts.mirror) return undefined;
    return facts;
  }

  /** Every listed pod scheduled to one of `nodes`, as `[namespace/name, facts]`. */
  podsOn(nodes: ReadonlySet<string>): [string, PodFacts][] {
    if (this.#pods === undefined) return [];
    return [...this.#pods.value].filter(([, facts]) => facts.nodeName !== null && nodes.has(facts.nodeName));
  }

  async #fetchPods(): Promise<void> {
    this.#lastPodAttemptMs = this.#now();
    const { nodeName } = this.#options;
    // resourceVersion=0: served from the API server's watch cache, not from etcd.
    const query: Record<string, string> =
      nodeName === undefined
        ? { resourceVersion: "0" }
        : { fieldSelector: `spec.nodeName=${nodeName}`, resourceVersion: "0" };
    try {
      const answer = await this.#get("pod list", "/api/v1/pods", query);
      const pods = podFactsFromList(answer);
      if (pods === undefined) throw new Error("the pod list answer has no `items` list");
      this.#pods = { value: pods, fetchedAtMs: this.#now() };
      this.#podsOutage.succeeded();
    } catch (error) {
      this.#podsOutage.failed({ err: error });
    }
  }

  async #fetchNodes(): Promise<void> {
    const { nodeName } = this.#options;
    try {
      let nodes: Map<string, NodeFacts> | undefined;
      if (nodeName === undefined) {
        nodes = nodeFactsFromList(await this.#get("node list", "/api/v1/nodes", { resourceVersion: "0" }));
        if (nodes === undefined) throw new Error("the node list answer has no `items` list");
      } else {
        const node = await this.#get(`node ${nodeName}`, `/api/v1/nodes/${encodeURIComponent(nodeName)}`);
        nodes = new Map([[nodeName, nodeFactsFrom(node)]]);
      }
      this.#nodes = { value: nodes, fetchedAtMs: this.#now() };
      this.#nodesOutage.succeeded();
    } catch (error) {
      this.#nodesOutage.failed({ err: error });
    }
  }

  #get(what: string, path: string, query?: Record<string, string>): Promise<unknown> {
    return withDeadline(what, this.#options.timeoutMs, (signal) =>
      this.#options.api.getJson(path, query === undefined ? { signal } : { query, signal }),
    );
  }
}
