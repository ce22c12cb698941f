// Looks at every container of the namespaces a containerd host reports: per namespace, one list
// of containers and one of tasks (two requests, whatever the number of containers), joined by id.
// A namespace that disappears between the namespace list and its own lists is skipped.
import type { Logger } from "@crowsnest/shared/agent";
import type { ContainerdClient } from "@crowsnest/shared/containerd";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import type { ContainerObserver, ObservedContainer } from "../../following/runtime-event-source.ts";
import type { ContainerIdentities } from "./container-identities.ts";
import { toObservedContainer } from "./containerd-container-mapper.ts";
import type { NamespaceSelection } from "./containerd-namespaces.ts";
import type { ProcessStartTimes } from "./process-start-time.ts";

export interface ContainerdObserverOptions {
  client: Pick<ContainerdClient, "namespaces" | "containers" | "tasks">;
  namespaces: NamespaceSelection;
  identities: ContainerIdentities;
  startTimes: ProcessStartTimes;
  logger: Logger;
  /** Deadline of each call. */
  timeoutMs: number;
}

/** Rejects when containerd cannot be asked: without it nothing can be said about the host. */
export function createContainerdObserver(options: ContainerdObserverOptions): ContainerObserver {
  const { client, namespaces, identities, startTimes, timeoutMs } = options;
  const call = <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    withDeadline(what, timeoutMs, run);

  return async () => {
    const all = await call("listing containerd namespaces", (signal) => client.namespaces(signal));
    const observed: ObservedContainer[] = [];
    const identified: [string, string, { name: string; image: string; labels: Record<string, string> }][] =
      [];
    for (const namespace of all.filter((name) => namespaces.includes(name)).sort()) {
      const [containers, tasks] = await Promise.all([
        call(`listing the containers of namespace ${namespace}`, (signal) =>
          client.containers(namespace, signal),
        ),
        call(`listing the tasks of namespace ${namespace}`, (signal) => client.tasks(namespace, signal)),
      ]);
      const taskOf = new Map(tasks.map((task) => [task.containerId, task]));
      for (const container of containers) {
        const task = taskOf.get(container.id);
        const running = task?.status === "RUNNING" || task?.status === "PAUSED" || task?.status === "PAUSING";
        const startedNano =
          task !== undefined && running ? await startTimes.startedNano(task.pid, container.id) : undefined;
        const entry = toObservedContainer({ namespace, container, task, startedNano });
        observed.push(entry);
        identified.push([
          namespace,
          container.id,
          { name: entry.info.name, image: entry.info.image, labels: entry.info.labels },
        ]);
      }
    }
    identities.replaceAll(identified);
    return observed;
  };
}
