// The CRI runtime's status cache: one poll lists the pod sandboxes and the containers (two
// calls, whatever their number) and asks ContainerStatus only for the containers that are new or
// whose state changed, so a quiet node costs two list calls per poll. Every sandbox and container
// is kept with the time the cache last saw it change; a reader can ask for the containers that
// changed after a given time and wait, bounded, until one does (the kubelet's "newer than").
// Each poll returns what changed, for the event differ. The clock is injected, so unit tests
// drive polls and waits by hand.
import type { Logger } from "@crowsnest/shared/agent";
import type {
  CriClient,
  CriContainer,
  CriContainerState,
  CriContainerStatus,
  CriPodSandbox,
} from "@crowsnest/shared/cri";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";

/** A pod sandbox as the cache keeps it. */
export interface CriSandboxRecord {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly attempt: number;
  readonly state: "ready" | "notready";
  readonly createdAtNano: bigint;
  readonly labels: Readonly<Record<string, string>>;
}

/** One CRI container (one run of a pod's container) with its pod's identity and its status. */
export interface CriContainerRecord {
  readonly id: string;
  readonly sandboxId: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly podUid: string;
  /** The container's name in its pod. */
  readonly name: string;
  /** Which run of that container this is: 0, then one more after each restart. */
  readonly attempt: number;
  readonly state: CriContainerState;
  readonly image: string;
  readonly imageRef: string;
  /** The sandbox's labels (the pod's) and the container's own. */
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAtNano: bigint;
  readonly startedAtNano: bigint | undefined;
  readonly finishedAtNano: bigint | undefined;
  /** Null until it exited. */
  readonly exitCode: number | null;
  /** The runtime's reason for its state (`OOMKilled`, `Error`, `Completed`), empty when none. */
  readonly reason: string;
  readonly message: string;
  readonly logPath: string;
  readonly memLimitBytes: number | null;
  readonly cpuLimitCores: number | null;
  /** The process id while it runs, where the runtime tells it (verbose status); else null. */
  readonly pid: number | null;
}

interface Timed<T> {
  readonly value: T;
  /** When the cache last saw it change (its clock, ms). */
  readonly updatedAtMs: number;
}

export interface Change<T> {
  /** Undefined: new. */
  readonly before: T | undefined;
  /** Undefined: gone. */
  readonly after: T | undefined;
}

export interface PollResult {
  readonly sandboxes: readonly Change<CriSandboxRecord>[];
  readonly containers: readonly Change<CriContainerRecord>[];
  /** When the poll began (the cache's clock, ms). */
  readonly startedAtMs: number;
}

export interface CriStatusCacheOptions {
  client: Pick<CriClient, "negotiate" | "podSandboxes" | "containers" | "containerStatus">;
  logger: Logger;
  /** Deadline of each call. */
  timeoutMs: number;
  /** ContainerStatus calls in flight at once. */
  statusConcurrency?: number;
  now?: () => number;
}

function limitsOf(status: CriContainerStatus): {
  memLimitBytes: number | null;
  cpuLimitCores: number | null;
} {
  let memory = status.resources?.memoryLimitBytes ?? 0;
  let quota = status.resources?.cpuQuota ?? 0;
  let period = status.resources?.cpuPeriod ?? 0;
  // Runtimes that do not fill `resources` (containerd before 1.7) have the spec in the verbose info.
  const spec = runtimeSpecOf(status.info);
  if (memory <= 0) memory = spec?.memory ?? 0;
  if (quota <= 0 || period <= 0) {
    quota = spec?.quota ?? 0;
    period = spec?.period ?? 0;
  }
  return {
    memLimitBytes: memory > 0 ? memory : null,
    cpuLimitCores: quota > 0 && period > 0 ? quota / period : null,
  };
}

/** The limits and pid in containerd's verbose info (`info`: JSON with `pid` and `runtimeSpec`). */
function runtimeSpecOf(info: Readonly<Record<string, string>>):
  | {
      memory: number | undefined;
      quota: number | undefined;
      period: number | undefined;
      pid: number | undefined;
    }
  | undefined {
  const text = info.info;
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as {
      pid?: unknown;
      runtimeSpec?: {
        linux?: { resources?: { memory?: { limit?: unknown }; cpu?: { quota?: unknown; period?: unknown } } };
      };
    };
    const resources = parsed.runtimeSpec?.linux?.resources;
    const number = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);
    return {
      memory: number(resources?.memory?.limit),
      quota: number(resources?.cpu?.quota),
      period: number(resources?.cpu?.period),
      pid: number(parsed.pid),
    };
  } catch {
    return undefined;
  }
}

function sandboxRecord(sandbox: CriPodSandbox): CriSandboxRecord {
  return {
    id: sandbox.id,
    namespace: sandbox.namespace,
    name: sandbox.name,
    uid: sandbox.uid,
    attempt: sandbox.attempt,
    state: sandbox.state,
    createdAtNano: sandbox.createdAtNano,
    labels: sandbox.labels,
  };
}

function sameSandbox(a: CriSandboxRecord, b: CriSandboxRecord): boolean {
  return a.state === b.state && a.name === b.name && a.namespace === b.namespace;
}

export class CriStatusCache {
  readonly #client: CriStatusCacheOptions["client"];
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #statusConcurrency: number;
  readonly #now: () => number;
  #sandboxes = new Map<string, Timed<CriSandboxRecord>>();
  #containers = new Map<string, Timed<CriContainerRecord>>();
  /** The state the list gave each container when its status was last read: a status is read again only when it differs. */
  #listed = new Map<string, CriContainerState>();
  #polled = false;
  #waiters = new Set<() => void>();

  constructor(options: CriStatusCacheOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs;
    this.#statusConcurrency = options.statusConcurrency ?? 8;
    this.#now = options.now ?? Date.now;
  }

  /** Whether a poll has succeeded yet (before, the cache knows nothing). */
  get polled(): boolean {
    return this.#polled;
  }

  sandboxes(): CriSandboxRecord[] {
    return [...this.#sandboxes.values()].map((entry) => entry.value);
  }

  containers(): CriContainerRecord[] {
    return [...this.#containers.values()].map((entry) => entry.value);
  }

  sandbox(id: string): CriSandboxRecord | undefined {
    return this.#sandboxes.get(id)?.value;
  }

  container(id: string): CriContainerRecord | undefined {
    return this.#containers.get(id)?.value;
  }

  /** The containers that changed (or appeared) after `afterMs`, the cache's clock. */
  newerThan(afterMs: number): CriContainerRecord[] {
    return [...this.#containers.values()]
      .filter((entry) => entry.updatedAtMs > afterMs)
      .map((entry) => entry.value);
  }

  /**
   * The containers that changed after `afterMs`; when none has, waits for the polls until one
   * does or `waitMs` has passed (then none). `signal` ends the wait early.
   */
  async getNewerThan(afterMs: number, waitMs: number, signal?: AbortSignal): Promise<CriContainerRecord[]> {
    const deadline = this.#now() + waitMs;
    for (;;) {
      const newer = this.newerThan(afterMs);
      if (newer.length > 0 || this.#now() >= deadline || signal?.aborted === true) return newer;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - this.#now()));
        this.#waiters.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** One look at the runtime; what changed since the last. Rejects when the runtime cannot be listed. */
  async poll(): Promise<PollResult> {
    const startedAtMs = this.#now();
    const call = <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
      withDeadline(what, this.#timeoutMs, run);
    await call("asking the CRI runtime its version", (signal) => this.#client.negotiate(signal));
    const [sandboxes, containers] = await Promise.all([
      call("listing the pod sandboxes", (signal) => this.#client.podSandboxes(signal)),
      call("listing the containers", (signal) => this.#client.containers(signal)),
    ]);
    const nowMs = this.#now();

    const sandboxChanges: Change<CriSandboxRecord>[] = [];
    const nextSandboxes = new Map<string, Timed<CriSandboxRecord>>();
    for (const sandbox of sandboxes) {
      const record = sandboxRecord(sandbox);
      const known = this.#sandboxes.get(sandbox.id);
      if (known !== undefined && sameSandbox(known.value, record)) {
        nextSandboxes.set(sandbox.id, known);
      } else {
        nextSandboxes.set(sandbox.id, { value: record, updatedAtMs: nowMs });
        sandboxChanges.push({ before: known?.value, after: record });
      }
    }
    for (const [id, known] of this.#sandboxes) {
      if (!nextSandboxes.has(id)) sandboxChanges.push({ before: known.value, after: undefined });
    }

    const containerChanges: Change<CriContainerRecord>[] = [];
    const nextContainers = new Map<string, Timed<CriContainerRecord>>();
    const nextListed = new Map<string, CriContainerState>();
    const changed: CriContainer[] = [];
    for (const container of containers) {
      const known = this.#containers.get(container.id);
      // A container whose sandbox the list does not show yet is taken at the next poll.
      if (!nextSandboxes.has(container.podSandboxId)) continue;
      if (known !== undefined && this.#listed.get(container.id) === container.state) {
        nextContainers.set(container.id, known);
        nextListed.set(container.id, container.state);
      } else {
        changed.push(container);
      }
    }
    await forEachBounded(changed, this.#statusConcurrency, async (container) => {
      const known = this.#containers.get(container.id)?.value;
      let status: CriContainerStatus | undefined;
      try {
        // Verbose once, when first seen: the limits and the pid are in the runtime's spec.
        status = await call(`reading the status of container ${container.id}`, (signal) =>
          this.#client.containerStatus(container.id, known === undefined, signal),
        );
      } catch (error) {
        this.#logger.debug(
          { err: error, container_id: container.id },
          "cannot read a container's status; next poll",
        );
        if (known !== undefined) {
          nextContainers.set(container.id, this.#containers.get(container.id) as Timed<CriContainerRecord>);
          const listed = this.#listed.get(container.id);
          if (listed !== undefined) nextListed.set(container.id, listed);
        }
        return;
      }
      // Removed between the list and the status: gone at this poll.
      if (status === undefined) return;
      const sandbox = nextSandboxes.get(container.podSandboxId)?.value as CriSandboxRecord;
      const record = this.#record(container, status, sandbox, known);
      nextContainers.set(container.id, { value: record, updatedAtMs: nowMs });
      nextListed.set(container.id, container.state);
      containerChanges.push({ before: known, after: record });
    });
    for (const [id, known] of this.#containers) {
      if (!nextContainers.has(id)) containerChanges.push({ before: known.value, after: undefined });
    }

    this.#sandboxes = nextSandboxes;
    this.#containers = nextContainers;
    this.#listed = nextListed;
    this.#polled = true;
    if (containerChanges.length > 0) for (const wake of [...this.#waiters]) wake();
    return { sandboxes: sandboxChanges, containers: containerChanges, startedAtMs };
  }

  #record(
    container: CriContainer,
    status: CriContainerStatus,
    sandbox: CriSandboxRecord,
    known: CriContainerRecord | undefined,
  ): CriContainerRecord {
    const limits = known ?? limitsOf(status);
    const spec = runtimeSpecOf(status.info);
    const state = status.state;
    return {
      id: container.id,
      sandboxId: container.podSandboxId,
      podNamespace: sandbox.namespace,
      podName: sandbox.name,
      podUid: sandbox.uid,
      name: status.name || container.name,
      attempt: status.attempt,
      state,
      image: status.image || container.image,
      imageRef: status.imageRef || container.imageRef,
      labels: { ...sandbox.labels, ...status.labels },
      createdAtNano: status.createdAtNano,
      startedAtNano: status.startedAtNano,
      finishedAtNano: status.finishedAtNano,
      exitCode: state === "exited" ? status.exitCode : null,
      reason: status.reason,
      message: status.message,
      logPath: status.logPath,
      memLimitBytes: limits.memLimitBytes,
      cpuLimitCores: limits.cpuLimitCores,
      pid: state === "running" ? (spec?.pid ?? known?.pid ?? null) : null,
    };
  }
}
