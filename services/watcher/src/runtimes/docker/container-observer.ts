// Looks at every container of the host: one list call, then an inspect of each (a bounded number
// at a time, each with a deadline) for what only inspect knows. A container that vanished
// between the list and its inspect is left out; one whose inspect failed otherwise is described
// from its list entry, so one slow container never costs the whole inventory.
import type { ContainerInfo, Logger } from "@crowsnest/shared";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import { type InspectedContainer, parseContainerInspect } from "./container-inspect-parser.ts";
import type { DockerApi, ListedContainer } from "./docker-api.ts";
import { inspectedToContainerInfo, toContainerInfo } from "./docker-container-mapper.ts";
import { classifyDockerError } from "./docker-errors.ts";

export interface ObservedContainer {
  readonly listed: ListedContainer;
  /** Undefined when inspect failed (not when the container vanished: that one is left out). */
  readonly inspected: InspectedContainer | undefined;
  readonly info: ContainerInfo;
}

export interface ContainerObserverOptions {
  docker: Pick<DockerApi, "listContainers"> & Partial<Pick<DockerApi, "inspectContainer">>;
  logger: Logger;
  /** Inspect calls in flight at once. */
  concurrency: number;
  /** Deadline of the list call and of each inspect. */
  timeoutMs: number;
}

export type ContainerObserver = () => Promise<ObservedContainer[]>;

/** The observer rejects when the list call fails: without it nothing can be said about the host. */
export function createContainerObserver(options: ContainerObserverOptions): ContainerObserver {
  const { docker, logger, concurrency, timeoutMs } = options;
  // An inspect outage lasts across snapshots: one line when it starts, one when it ends.
  const inspectOutage = new OutageLog({
    logger,
    failureMessage: "cannot inspect some containers; described from the container list",
    recoveryMessage: "inspecting containers works again",
  });
  return async () => {
    const listed = await withDeadline("listing containers", timeoutMs, (signal) =>
      docker.listContainers({ all: true, signal }),
    );
    const inspect = docker.inspectContainer;
    if (inspect === undefined) {
      return listed.map((entry) => ({ listed: entry, inspected: undefined, info: toContainerInfo(entry) }));
    }
    const observed = new Map<string, ObservedContainer>();
    let failures = 0;
    let firstFailure: unknown;
    await forEachBounded(listed, concurrency, async (entry) => {
      try {
        const json = await withDeadline(`inspecting container ${entry.Id}`, timeoutMs, (signal) =>
          inspect(entry.Id, { signal }),
        );
        const inspected = parseContainerInspect(json);
        if (inspected === undefined) throw new Error("inspect answer without a container id");
        observed.set(entry.Id, { listed: entry, inspected, info: inspectedToContainerInfo(inspected) });
      } catch (error) {
        // Removed after it was listed: it is no longer part of the host.
        if (classifyDockerError(error) === "not_found") return;
        failures += 1;
        firstFailure ??= error;
        observed.set(entry.Id, { listed: entry, inspected: undefined, info: toContainerInfo(entry) });
      }
    });
    if (failures > 0) inspectOutage.failed({ err: firstFailure, failures, containers: listed.length });
    else inspectOutage.succeeded();
    // In the list's order, which is dockerd's (newest first).
    return listed.flatMap((entry) => {
      const found = observed.get(entry.Id);
      return found === undefined ? [] : [found];
    });
  };
}
