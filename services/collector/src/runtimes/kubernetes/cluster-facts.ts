// The pod and node objects the collector needs beside the kubelet's figures (limits, container
// order, node capacity, which nodes exist), fetched from the API server and reused for a bounded
// age: a pod's limits cannot change without a new pod, so a minute-old list is right for every
// pod it has. A pod the list does not have yet (or a new pod under an old name) is fetched on its
// own with one GET, a few at a time, each pod retried with capped backoff when that fails; when
// many are missing at once the list is fetched early instead, at most every EARLY_REFRESH_MIN_MS.
// A failed fetch keeps the previous answer, and a pod gone from a new list is kept for one more
// list (a deleted pod's containers are still sampled while they stop).
import type { Logger } from "@crowsnest/shared/agent";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { KubernetesApiPort } from "./kubernetes-api-port.ts";
import {
  type NodeFacts,
  nodeFactsFrom,
  nodeFactsFromList,
  type PodFacts,
  podFactsFrom,
  podFactsFromList,
  podKey,
} from "./pod-facts.ts";

/** Many pods the list lacks make it fetched again, but not more often than this. */
export const EARLY_REFRESH_MIN_MS = 10_000;

/**
 * At most this many missing pods are fetched one by one in a tick (more make the list fetched
 * early); a DaemonSet's node rarely starts more pods than this between two ticks.
 */
export const POD_GETS_PER_TICK_MAX = 16;

/** Backoff of a pod whose GET failed: from the first delay, doubling, to the last. */
export const POD_GET_BACKOFF_MS = { initial: 1000, max: 60_000 } as const;

/** A pod as the kubelet names it. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string | null;
}

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
  readonly #podGetOutage: OutageLog;
  #pods: Fetched<Map<string, PodFacts>> | undefined;
  /** Pods the last list no longer had, kept until the next one. */
  #departed = new Map<string, PodFacts>();
  /** Missing pods whose GET failed: when each may be tried again, and the delay after that. */
  readonly #podRetries = new Map<string, { notBeforeMs: number; delayMs: number }>();
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
    this.#podGetOutage = new OutageLog({
      logger: options.logger,
      failureMessage:
        "cannot read a new pod; its containers' samples wait until its limits are known (retried with backoff)",
      recoveryMessage: "new pods read again",
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

  /**
   * Reads the pods the kubelet reports that are not known (see `pod`): each with one GET, or the
   * whole list early when more than POD_GETS_PER_TICK_MAX are missing. A pod whose GET failed is
   * not asked for again before its backoff has passed. Never throws; resolves when done.
   */
  async fetchMissing(pods: readonly PodRef[]): Promise<void> {
    const key = (pod: PodRef) => `${podKey(pod.namespace, pod.name)}/${pod.uid ?? ""}`;
    const wanted = new Set(pods.map(key));
    // Backoffs of pods no longer missing (known now, or gone) are forgotten.
    for (const known of this.#podRetries.keys()) if (!wanted.has(known)) this.#podRetries.delete(known);
    let missing = pods.filter((pod) => this.pod(pod.namespace, pod.name, pod.uid) === undefined);
    if (
      missing.length > POD_GETS_PER_TICK_MAX &&
      this.#now() - this.#lastPodAttemptMs >= EARLY_REFRESH_MIN_MS
    ) {
      await this.#fetchPods();
      missing = missing.filter((pod) => this.pod(pod.namespace, pod.name, pod.uid) === undefined);
    }
    const now = this.#now();
    const due = missing
      .filter((pod) => (this.#podRetries.get(key(pod))?.notBeforeMs ?? now) <= now)
      .slice(0, POD_GETS_PER_TICK_MAX);
    const failures = await Promise.all(due.map((pod) => this.#fetchPod(pod)));
    due.forEach((pod, index) => {
      const failure = failures[index];
      if (failure === undefined) {
        this.#podRetries.delete(key(pod));
        return;
      }
      const delayMs = Math.min(
        (this.#podRetries.get(key(pod))?.delayMs ?? POD_GET_BACKOFF_MS.initial / 2) * 2,
        POD_GET_BACKOFF_MS.max,
      );
      this.#podRetries.set(key(pod), { notBeforeMs: this.#now() + delayMs, delayMs });
    });
    const failed = failures.filter((failure) => failure !== undefined);
    if (failed.length > 0) this.#podGetOutage.failed({ pods: failed.length, example_error: failed[0] });
    else if (due.length > 0) this.#podGetOutage.succeeded();
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
    const key = podKey(namespace, name);
    for (const facts of [this.#pods?.value.get(key), this.#departed.get(key)]) {
      if (facts !== undefined && (uid === null || facts.uid === null || facts.uid === uid || facts.mirror)) {
        return facts;
      }
    }
    return undefined;
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
      this.#departed = new Map(
        [...(this.#pods?.value ?? [])].filter(([key, facts]) => pods.get(key)?.uid !== facts.uid),
      );
      this.#pods = { value: pods, fetchedAtMs: this.#now() };
      this.#podsOutage.succeeded();
    } catch (error) {
      this.#podsOutage.failed({ err: error });
    }
  }

  /** One pod by name, added to the known pods; what went wrong, or undefined when it is known now. */
  async #fetchPod(pod: PodRef): Promise<string | undefined> {
    const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}`;
    let facts: PodFacts;
    try {
      facts = podFactsFrom(await this.#get(`pod ${podKey(pod.namespace, pod.name)}`, path));
    } catch (error) {
      return (error as Error).message;
    }
    // Until the first list arrives, an empty one that is already due again.
    this.#pods ??= { value: new Map(), fetchedAtMs: Number.NEGATIVE_INFINITY };
    this.#pods.value.set(podKey(pod.namespace, pod.name), facts);
    return this.pod(pod.namespace, pod.name, pod.uid) === undefined
      ? `the pod ${podKey(pod.namespace, pod.name)} is another one now (uid ${facts.uid}, the kubelet reports ${pod.uid})`
      : undefined;
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
