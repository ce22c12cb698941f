// The Docker runtime's watcher: the event-following core (following/event-stream-watcher.ts)
// with dockerd's event stream as its source and dockerd's list and inspect as its look at every
// container. docker-runtime.ts builds it from configuration; the integration tests build it the
// same way against real dockerd and NATS.
import type { BackoffOptions } from "@crowsnest/shared/util/capped-backoff";
import {
  createEventStreamWatcher,
  type EventStreamWatcherOptions,
} from "../../following/event-stream-watcher.ts";
import type { RuntimeWatcher } from "../watcher-runtime.ts";
import { createContainerObserver } from "./container-observer.ts";
import type { DockerApi } from "./docker-api.ts";
import { createDockerEventFollower } from "./events/docker-event-follower.ts";
import { createEventEnricher } from "./events/event-enricher.ts";

export interface DockerWatcherOptions
  extends Omit<EventStreamWatcherOptions, "runtime" | "source" | "observe"> {
  docker: DockerApi;
  /** Deadline of each Docker call (list, inspect, the replay of a gap). */
  dockerTimeoutMs?: number;
  /** Inspect calls in flight at once when looking at every container. */
  inspectConcurrency?: number;
  /** Overrides of the event stream's reconnect backoff (tests use short delays). */
  reconnect?: BackoffOptions;
}

export function createDockerWatcher(options: DockerWatcherOptions): RuntimeWatcher {
  const {
    docker,
    host,
    logger,
    dockerTimeoutMs = 5000,
    inspectConcurrency = 8,
    reconnect,
    ...core
  } = options;
  return createEventStreamWatcher({
    ...core,
    host,
    logger,
    runtime: "docker",
    source: createDockerEventFollower({
      docker,
      host,
      logger,
      enrich: createEventEnricher({ docker, logger, timeoutMs: dockerTimeoutMs }),
      replayTimeoutMs: Math.max(dockerTimeoutMs, 10_000),
      ...(reconnect === undefined ? {} : { reconnect }),
    }),
    observe: createContainerObserver({
      docker,
      logger,
      concurrency: inspectConcurrency,
      timeoutMs: dockerTimeoutMs,
    }),
  });
}
