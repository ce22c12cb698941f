// Looks at every container of the host: one list call, then an inspect of each (a bounded number
// at a time, each with a deadline) for what only inspect knows. A container that vanished
// between the list and its inspect is left out; one whose inspect failed otherwise is described
// from its list entry, so one slow container never costs the whole inventory.
import type { ContainerInfo, Logger } from "@crowsnest/shared/agent";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { ObservedContainer } from "../../following/runtime-event-source.ts";
import type { ContainerSnapshot } from "../../resync/container-state-tracker.ts";
import { type InspectedContainer, parseContainerInspect } from "./container-inspect-parser.ts";
import type { DockerApi, ListedContainer } from "./docker-api.ts";
import { inspectedToContainerInfo, toContainerInfo } from "./docker-container-mapper.ts";
import { classifyDockerError } from "./docker-errors.ts";

export interface ObservedDockerContainer extends ObservedContainer {
  readonly listed: ListedContainer;
  /** Undefined when inspect failed (not when the container vanished: that one is left out). */
  readonly inspected: InspectedContainer | undefined;
}

export interface ContainerObserverOptions {
  docker: Pick<DockerApi, "listContainers"> & Partial<Pick<DockerApi, "inspectContainer">>;
  logger: Logger;
  /** Inspect calls in flight at once. */
  concurrency: number;
  /** Deadline of the list call and of each inspect. */
  timeoutMs: number;
}

export type DockerContainerObserver = () => Promise<ObservedDockerContainer[]>;

/** The observer rejects when the list call fails: without it nothing can be said about the host. */
export function createContainerObserver(options: ContainerObserverOptions): DockerContainerObserver {
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
      return listed.map((entry) => observedContainer(entry, undefined));
    }
    const observed = new Map<string, ObservedDockerContainer>();
    let failures = 0;
    let firstFailure: unknown;
    await forEachBounded(listed, concurrency, async (entry) => {
      try {
        const json = await withDeadline(`inspecting container ${entry.Id}`, timeoutMs, (signal) =>
          inspect(entry.Id, { signal }),
        );
        const inspected = parseContainerInspect(json);
        if (inspected === undefined) throw new Error("inspect answer without a container id");
        observed.set(entry.Id, observedContainer(entry, inspected));
      } catch (error) {
        // Removed after it was listed: it is no longer part of the host.
        if (classifyDockerError(error) === "not_found") return;
        failures += 1;
        firstFailure ??= error;
        observed.set(entry.Id, observedContainer(entry, undefined));
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

function observedContainer(
  listed: ListedContainer,
  inspected: InspectedContainer | undefined,
): ObservedDockerContainer {
  const info = inspected === undefined ? toContainerInfo(listed) : inspectedToContainerInfo(inspected);
  return { listed, inspected, info, snapshot: toSnapshot(listed, inspected, info) };
}

/** What the tracker compares: inspect's exact times and exit, else what the list entry says. */
function toSnapshot(
  listed: ListedContainer,
  inspected: InspectedContainer | undefined,
  info: ContainerInfo,
): ContainerSnapshot {
  if (inspected !== undefined) {
    return {
      id: inspected.id,
      name: inspected.name,
      image: inspected.image,
      labels: inspected.labels,
      state: inspected.state,
      detailed: true,
      createdNano: inspected.createdNano,
      startedNano: inspected.startedNano,
      finishedNano: inspected.finishedNano,
      exitCode: inspected.exitCode,
      oomKilled: inspected.oomKilled,
      health: inspected.health?.status ?? null,
    };
  }
  const createdSeconds = listed.Created;
  return {
    id: info.external_id,
    name: info.name,
    image: info.image,
    labels: info.labels,
    state: info.state,
    detailed: false,
    createdNano:
      createdSeconds !== undefined && Number.isSafeInteger(createdSeconds) && createdSeconds > 0
        ? BigInt(createdSeconds) * 1_000_000_000n
        : undefined,
    startedNano: undefined,
    finishedNano: undefined,
    exitCode: null,
    oomKilled: null,
    health: null,
  };
}
