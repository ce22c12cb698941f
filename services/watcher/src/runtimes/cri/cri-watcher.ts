// The watcher of a CRI node: polls the status cache, publishes the events the differences between
// successive states mean (cri-event-differ.ts) and the inventory, all through the one ordered
// JetStream queue, and records on the bus what it published about each container run and sandbox.
// After a restart, the first poll is compared with that record: every transition missed
// meanwhile is published once, with the id it would have had live (`synthesized: true`). Without
// a record the first poll is a baseline. Polls that fail (the runtime is down) are retried at the
// same interval; the first poll after them publishes what changed meanwhile as synthesized.
//
// Polls start every interval from the previous start (fixed-rate-loop.ts), so a change waits at
// most one interval plus one poll. Where the runtime serves GetContainerEvents (containerd ≥ 1.7,
// CRI-O), an event makes the next poll start at once (right after the poll in progress, which may
// have listed before the change), so changes reach the bus sooner; polling stays the source of truth
// (and the resync). containerd 1.6 answers UNIMPLEMENTED; its own event service on the same socket
// tells when a task is deleted, which is when its CRI records the exit: each deletion hastens the
// polls until they show that container exited (exit-hastener.ts).
import type { ContainerInfo, EventMessage, Logger, Subjects } from "@crowsnest/shared/agent";
import { type CriClient, isUnimplemented } from "@crowsnest/shared/cri";
import type { JetStreamPublisher } from "@crowsnest/shared/publishing";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import { enqueueInventory } from "../../inventory/inventory-enqueue.ts";
import { createEventPublisher } from "../../publishing/event-publisher.ts";
import { createWatcherQueue, DEFAULT_PUBLISH_STOP_TIMEOUT_MS } from "../../publishing/watcher-queue.ts";
import type { PublishedStateStore } from "../../recovery/published-state-store.ts";
import type { RuntimeWatcher } from "../watcher-runtime.ts";
import { type CriDiffContext, diffCriContainer, diffCriSandbox, inTimeOrder } from "./cri-event-differ.ts";
import { containerBusId, newestRuns, toContainerInfo } from "./cri-identity.ts";
import { type CriRecorded, containerRecordKey, sandboxRecordKey } from "./cri-record-codec.ts";
import type { Change, CriContainerRecord, CriSandboxRecord, CriStatusCache } from "./cri-status-cache.ts";
import { ExitHastener } from "./exit-hastener.ts";
import { type FixedRateLoop, runAtFixedRate } from "./fixed-rate-loop.ts";

/**
 * After a task deletion, the wait between a poll that still shows the container running and the
 * next: containerd's CRI records the exit right after the deletion, so one more poll usually
 * finds it, and a runtime that lags costs at most one poll per 50 ms until the interval is up.
 */
const EXIT_SETTLE_MS = 50;

export interface CriWatcherOptions {
  cache: CriStatusCache;
  /** For the event stream that hastens polls; undefined: polls only. */
  events?: Pick<CriClient, "containerEvents">;
  /**
   * containerd's own task deletions (their container ids) on the same socket, followed where the
   * CRI has no event stream: each hastens the polls until they show that container exited.
   * Undefined: none.
   */
  taskDeletions?: (signal: AbortSignal) => AsyncIterable<string>;
  js: JetStreamPublisher;
  subjects: Subjects;
  host: string;
  logger: Logger;
  pollIntervalMs: number;
  inventoryIntervalMs: number;
  maxPayloadBytes: () => number;
  /** Undefined: no recovery after a restart (the first poll is a baseline). */
  publishedState?: PublishedStateStore<CriRecorded>;
  stateCloseTimeoutMs?: number;
  publishStopTimeoutMs?: number;
  /** Between attempts to reopen a broken event stream. */
  eventsRetryMs?: number;
}

export interface CriWatcher extends RuntimeWatcher {
  /** Every pod container's newest run, as the inventory shows it (empty before the first poll). */
  containers(): ContainerInfo[];
}

interface Recovered {
  readonly containers: ReadonlyMap<string, CriContainerRecord>;
  readonly sandboxes: ReadonlyMap<string, CriSandboxRecord>;
}

export function createCriWatcher(options: CriWatcherOptions): CriWatcher {
  const { cache, subjects, host, logger, publishedState } = options;
  const queue = createWatcherQueue(options.js, logger);
  const publish = createEventPublisher({ queue, subjects, logger });
  const stopping = new AbortController();
  let recovered: Recovered | undefined;
  let connected = false;
  /** Whether the polls since the last good one failed: what the next one finds was not seen live. */
  let gap = false;
  let polls: FixedRateLoop | undefined;
  let eventsLoop: Promise<void> | undefined;
  let inventoryTimer: NodeJS.Timeout | undefined;
  let starting: Promise<void> | undefined;
  // Waits for a deleted task's exit for at most one interval: the regular poll comes by then.
  const hastener =
    options.taskDeletions === undefined
      ? undefined
      : new ExitHastener({
          wake: () => polls?.wake(),
          settleMs: EXIT_SETTLE_MS,
          maxWaitMs: options.pollIntervalMs,
        });

  const containers = (): ContainerInfo[] =>
    newestRuns(cache.containers())
      .map((record) => toContainerInfo(record, host))
      .sort((a, b) => a.external_id.localeCompare(b.external_id));

  const publishInventory = (reason: "startup" | "resync" | "periodic"): void => {
    if (!cache.polled) return;
    enqueueInventory(
      { queue, subjects, host, runtime: "cri", logger, maxPayloadBytes: options.maxPayloadBytes },
      reason,
      containers(),
    );
  };

  const record = (key: string, state: CriRecorded | undefined): void => {
    if (publishedState === undefined) return;
    queue.afterStored(() =>
      state === undefined ? publishedState.forget(key) : publishedState.record(key, state),
    );
  };

  /** The events of a set of changes, in time order; the record of each change follows its events. */
  const publishChanges = (
    sandboxes: readonly Change<CriSandboxRecord>[],
    changes: readonly Change<CriContainerRecord>[],
    context: CriDiffContext,
  ): number => {
    const busIds = new Set(cache.containers().map(containerBusId));
    const uids = new Set(cache.sandboxes().map((sandbox) => sandbox.uid));
    const events: EventMessage[] = [];
    for (const change of sandboxes) {
      const uid = (change.after ?? change.before)?.uid ?? "";
      events.push(...diffCriSandbox(change.before, change.after, context, uids.has(uid)));
    }
    // Runs removed together (a pod container's old and new run at once) destroy it once: the newest.
    const lastRemoved = new Map<string, CriContainerRecord>();
    for (const { before, after } of changes) {
      if (before === undefined || after !== undefined) continue;
      const known = lastRemoved.get(containerBusId(before));
      if (known === undefined || before.attempt > known.attempt)
        lastRemoved.set(containerBusId(before), before);
    }
    for (const change of changes) {
      const run = change.after ?? change.before;
      if (run === undefined) continue;
      const busId = containerBusId(run);
      const remains = busIds.has(busId) || (change.after === undefined && lastRemoved.get(busId) !== run);
      events.push(...diffCriContainer(change.before, change.after, context, remains));
    }
    for (const event of inTimeOrder(events)) publish(event);
    for (const change of sandboxes) {
      const id = (change.after ?? change.before)?.id ?? "";
      record(
        sandboxRecordKey(id),
        change.after === undefined ? undefined : { kind: "sandbox", record: change.after },
      );
    }
    for (const change of changes) {
      const id = (change.after ?? change.before)?.id ?? "";
      record(
        containerRecordKey(id),
        change.after === undefined ? undefined : { kind: "container", record: change.after },
      );
    }
    return events.length;
  };

  const recordAll = (cursor: string): void => {
    if (publishedState === undefined) return;
    const all = new Map<string, CriRecorded>();
    for (const sandbox of cache.sandboxes())
      all.set(sandboxRecordKey(sandbox.id), { kind: "sandbox", record: sandbox });
    for (const run of cache.containers())
      all.set(containerRecordKey(run.id), { kind: "container", record: run });
    queue.afterStored(() => {
      publishedState.recordAll(all);
      publishedState.recordCursor(cursor);
    });
  };

  /** The first good poll: a baseline, or the transitions missed since the record. */
  const firstPoll = (startedAtMs: number): void => {
    if (recovered !== undefined) {
      const before = recovered;
      recovered = undefined;
      const sandboxChanges: Change<CriSandboxRecord>[] = [];
      const now = new Map(cache.sandboxes().map((sandbox) => [sandbox.id, sandbox]));
      for (const [id, sandbox] of now)
        sandboxChanges.push({ before: before.sandboxes.get(id), after: sandbox });
      for (const [id, sandbox] of before.sandboxes)
        if (!now.has(id)) sandboxChanges.push({ before: sandbox, after: undefined });
      const containerChanges: Change<CriContainerRecord>[] = [];
      const runs = new Map(cache.containers().map((run) => [run.id, run]));
      for (const [id, run] of runs) containerChanges.push({ before: before.containers.get(id), after: run });
      for (const [id, run] of before.containers)
        if (!runs.has(id)) containerChanges.push({ before: run, after: undefined });
      const missed = publishChanges(sandboxChanges, containerChanges, {
        host,
        synthesized: true,
        nowMs: startedAtMs,
      });
      logger.info(
        { recorded_containers: before.containers.size, containers: runs.size, missed },
        "compared the CRI containers with what was published before the watcher stopped",
      );
    }
    publishInventory("startup");
    recordAll(String(startedAtMs));
  };

  const pollOnce = async (): Promise<void> => {
    const first = !cache.polled;
    let result: Awaited<ReturnType<CriStatusCache["poll"]>>;
    try {
      result = await cache.poll();
    } catch (error) {
      if (!gap) logger.warn({ err: error }, "cannot list the CRI runtime's containers; polling on");
      else logger.debug({ err: error }, "the CRI runtime still cannot be listed");
      gap = true;
      connected = false;
      return;
    }
    connected = true;
    hastener?.polled((id) => cache.container(id)?.state === "running");
    logger.debug(
      {
        duration_ms: Date.now() - result.startedAtMs,
        sandboxes_changed: result.sandboxes.length,
        containers_changed: result.containers.length,
      },
      "polled the CRI runtime",
    );
    if (first) {
      gap = false;
      firstPoll(result.startedAtMs);
      return;
    }
    const synthesized = gap;
    const published = publishChanges(result.sandboxes, result.containers, {
      host,
      synthesized,
      nowMs: result.startedAtMs,
    });
    if (synthesized) {
      gap = false;
      logger.info(
        { synthesized: published },
        "the CRI runtime answers again; published what changed meanwhile",
      );
      publishInventory("resync");
    }
  };

  /** Follows the runtime's container events where it has them: each one starts the next poll now. */
  const followEvents = async (): Promise<void> => {
    const source = options.events;
    if (source === undefined) return;
    const signal = stopping.signal;
    while (!signal.aborted) {
      try {
        for await (const _event of source.containerEvents(signal)) polls?.wake();
      } catch (error) {
        if (isUnimplemented(error)) {
          if (options.taskDeletions === undefined) {
            logger.info("the CRI runtime has no container event stream (GetContainerEvents); polling alone");
            return;
          }
          logger.info(
            "the CRI runtime has no container event stream (GetContainerEvents); polling, hastened by containerd's task deletions",
          );
          await followTaskDeletions(options.taskDeletions);
          return;
        }
        logger.debug({ err: error }, "the CRI container event stream broke; polling meanwhile");
      }
      await abortableSleep(options.eventsRetryMs ?? 5000, signal);
    }
  };

  /** containerd's task deletions, where its event service answers: each hastens the polls. */
  const followTaskDeletions = async (deletions: (signal: AbortSignal) => AsyncIterable<string>) => {
    const signal = stopping.signal;
    while (!signal.aborted) {
      try {
        for await (const containerId of deletions(signal)) hastener?.taskDeleted(containerId);
      } catch (error) {
        if (isUnimplemented(error)) {
          logger.info("the runtime has no containerd event service either; polling alone");
          return;
        }
        logger.debug({ err: error }, "containerd's event stream broke; polling meanwhile");
      }
      await abortableSleep(options.eventsRetryMs ?? 5000, signal);
    }
  };

  const recover = async (): Promise<void> => {
    if (publishedState === undefined) return;
    try {
      const { entries, cursor } = await publishedState.load();
      if (cursor === undefined) return;
      const containers = new Map<string, CriContainerRecord>();
      const sandboxes = new Map<string, CriSandboxRecord>();
      for (const { state } of entries.values()) {
        if (state.kind === "container") containers.set(state.record.id, state.record);
        else sandboxes.set(state.record.id, state.record);
      }
      recovered = { containers, sandboxes };
      logger.info(
        { containers: containers.size, sandboxes: sandboxes.size },
        "resuming from what was published before the watcher stopped",
      );
    } catch (error) {
      logger.warn(
        { err: error },
        "cannot read what was published before the watcher stopped; transitions missed meanwhile are not published",
      );
    }
  };

  let stopped = false;
  return {
    start() {
      starting ??= recover().then(() => {
        if (stopped) return;
        polls = runAtFixedRate(pollOnce, {
          intervalMs: options.pollIntervalMs,
          signal: stopping.signal,
        });
        eventsLoop = followEvents();
        inventoryTimer = setInterval(() => publishInventory("periodic"), options.inventoryIntervalMs);
        inventoryTimer.unref();
      });
    },
    async stop() {
      stopped = true;
      stopping.abort();
      await starting;
      clearInterval(inventoryTimer);
      hastener?.stop();
      await polls?.done;
      await eventsLoop;
      await queue.stop(options.publishStopTimeoutMs ?? DEFAULT_PUBLISH_STOP_TIMEOUT_MS);
      await publishedState?.close(options.stateCloseTimeoutMs ?? 3000);
    },
    isConnected: () => connected,
    containers,
  };
}
