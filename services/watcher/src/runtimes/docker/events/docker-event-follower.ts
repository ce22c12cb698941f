// Follows dockerd's container event stream and publishes every lifecycle event once.
//
// The Docker runtime's RuntimeEventSource (following/runtime-event-source.ts). Race-free the way
// whalewatcher does it: subscribe first, then have the core look at the containers (the sink's
// `subscribed`), so a change between the two is in the stream. When the stream ends or
// fails (dockerd restarts, the socket breaks), it resubscribes with capped exponential
// backoff and `since` = the last event's time in seconds, so dockerd replays what happened
// in the gap; replays of events already published are recognized by event id.
//
// Events are handled one at a time in stream order (a `die` waits for its inspect), behind a
// barrier set up at each subscription: after a reconnect, the gap's events are first fetched
// as a bounded replay (`since`..now, a request that ends, so it is known when the replay is
// complete), then the core resynchronizes and publishes the inventory, and only then are
// the new stream's events handled. The stream itself is read all the while: dockerd drops
// events for a subscriber that does not keep up.
//
// After a restart of the watcher, start() is given the time up to which what it recorded on the
// bus before it stopped reflects dockerd (see recovery/): the first subscription is then handled
// like a reconnect, replaying what dockerd still has since then (and nothing up to it again)
// before the startup resynchronization.
import type { EventMessage, Logger } from "@crowsnest/shared/agent";
import { abortableSleep, unlessAborted } from "@crowsnest/shared/util/abortable-sleep";
import { type BackoffOptions, CappedBackoff } from "@crowsnest/shared/util/capped-backoff";
import { LateOomWatch } from "../../../following/late-oom-watch.ts";
import { OomMemory } from "../../../following/oom-memory.ts";
import type {
  RuntimeEventSink,
  RuntimeEventSource,
  SubscriptionReason,
} from "../../../following/runtime-event-source.ts";
import { SerialTasks, StreamOutage } from "../../../following/stream-outage.ts";
import { msToNanos, nanosToDockerTime } from "../../../time/nano-time.ts";
import type { DockerApi, DockerEventStream } from "../docker-api.ts";
import {
  dockerEventTimeNano,
  type NormalizeContext,
  normalizeDockerEvent,
  splitDockerAction,
} from "./docker-event-normalizer.ts";
import { parseDockerEventLine } from "./docker-event-parser.ts";
import { createLineSplitter, DEFAULT_MAX_LINE_LENGTH } from "./ndjson-line-splitter.ts";
import { RecentIdSet } from "./recent-id-set.ts";

export interface DockerEventFollowerOptions {
  /** Without replayEvents, a reconnect relies on the new stream's `since` replay alone. */
  docker: Pick<DockerApi, "getEvents" | "ping"> & Partial<Pick<DockerApi, "replayEvents">>;
  host: string;
  logger: Logger;
  /** Adds details to an event before it is delivered (see event-enricher.ts). */
  enrich?: (event: EventMessage) => Promise<EventMessage>;
  /** How long the bounded replay after a reconnect may take. */
  replayTimeoutMs?: number;
  /** Delay between attempts to resubscribe. */
  reconnect?: BackoffOptions;
  /** A stream open at least this long was healthy: the next outage starts again from the initial delay. */
  healthyAfterMs?: number;
  /**
   * How often dockerd is pinged while the stream is open. A connection that died without
   * closing (a TCP peer gone) raises nothing on an event stream, which is silent when the
   * host is quiet; a failed ping is the sign to reopen it.
   */
  livenessProbeIntervalMs?: number;
  livenessProbeTimeoutMs?: number;
  /** Event ids remembered to recognize replays (dockerd replays at most 256 events). */
  recentEventIds?: number;
  /**
   * How long a `die` with exit code 137 that nothing marked as an OOM death waits for an `oom`
   * dockerd sends after it (default 1 s). Events behind it wait as well.
   */
  lateOomWaitMs?: number;
}

/** With a resume point, dockerd's buffered events after it are replayed before the startup resynchronization. */
export type DockerEventFollower = RuntimeEventSource;

export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

const NANOS_PER_SECOND = 1_000_000_000n;

export function createDockerEventFollower(options: DockerEventFollowerOptions): DockerEventFollower {
  const { docker, host, logger } = options;
  const healthyAfterMs = options.healthyAfterMs ?? 30_000;
  const probeIntervalMs = options.livenessProbeIntervalMs ?? 30_000;
  const probeTimeoutMs = options.livenessProbeTimeoutMs ?? 10_000;
  const backoff = new CappedBackoff(options.reconnect ?? DEFAULT_RECONNECT_BACKOFF);
  const recentIds = new RecentIdSet(options.recentEventIds ?? 4096);
  const oom = new OomMemory();
  const lateOomWaitMs = options.lateOomWaitMs ?? 1000;
  // One kill: an `oom` at most as far after its `die` as a `die` may wait for it.
  const lateOom = new LateOomWatch({ windowMs: Math.max(lateOomWaitMs, 1000) });
  const replayTimeoutMs = options.replayTimeoutMs ?? 10_000;
  const stopping = new AbortController();
  /** Set by start(): where the events go. */
  let sink: RuntimeEventSink | undefined;
  // Everything that handles events runs on this chain, one task after the other.
  const tasks = new SerialTasks(logger);
  const outage = new StreamOutage(logger, backoff);

  let loop: Promise<void> | undefined;
  let currentStream: DockerEventStream | undefined;
  /** The newest event time seen, in dockerd's nanoseconds; 0n before the first event. */
  let lastEventNano = 0n;
  /** Events up to this time were published before a restart: a replay of them is dropped. */
  let publishedThroughNano: bigint | undefined;
  let firstSubscribedAtMs: number | undefined;

  /**
   * Where a new subscription starts replaying: the last event's second (`since` is whole
   * seconds, and taking timeNano for seconds is the prior-art bug that asked for 2077), or
   * the first subscription's time when no event has come yet. Both replay a little twice,
   * which the id set absorbs; a second earlier covers rounding between the two clocks.
   */
  const sinceSeconds = (): number | undefined => {
    if (lastEventNano > 0n) return Number(lastEventNano / NANOS_PER_SECOND);
    if (firstSubscribedAtMs !== undefined) return Math.floor(firstSubscribedAtMs / 1000) - 1;
    return undefined;
  };

  // One for every event: without a JIT each closure made per event costs.
  const normalizeContext: NormalizeContext = {
    host,
    wasOomKilled: (containerId, at) => oom.wasOomKilled(containerId, at),
  };

  const handleLine = async (line: string): Promise<void> => {
    const parsed = parseDockerEventLine(line);
    if (!parsed.ok) {
      logger.warn({ detail: parsed.detail, line: line.slice(0, 300) }, "malformed Docker event skipped");
      return;
    }
    const timeNano = dockerEventTimeNano(parsed.event);
    if (publishedThroughNano !== undefined && timeNano !== undefined && timeNano <= publishedThroughNano) {
      logger.debug({ time_nano: timeNano.toString() }, "event published before the restart not repeated");
      return;
    }
    if (timeNano !== undefined && timeNano > lastEventNano) lastEventNano = timeNano;
    const result = normalizeDockerEvent(parsed.event, normalizeContext);
    if (result.kind === "skipped") return;
    if (result.kind === "invalid") {
      logger.warn({ detail: result.detail, line: line.slice(0, 300) }, "unusable Docker event skipped");
      return;
    }
    let { event } = result;
    if (!recentIds.add(event.event_id)) {
      logger.debug({ event_id: event.event_id }, "replayed event already published");
      return;
    }
    const containerId = event.actor.external_id;
    if (event.action === "oom" && timeNano !== undefined) {
      lateOom.handled(containerId, timeNano);
      if (oom.isRepeatedOom(containerId, timeNano)) {
        logger.debug({ event_id: event.event_id }, "second oom of one kill not published");
        sink?.repeated(event);
        return;
      }
    }
    if (timeNano !== undefined) oom.observe(event.action, containerId, timeNano);
    if (options.enrich !== undefined) event = await options.enrich(event);
    if (
      event.action === "die" &&
      event.exit_code === 137 &&
      event.oom_killed !== true &&
      timeNano !== undefined &&
      (await lateOom.arrives(containerId, timeNano, lateOomWaitMs, stopping.signal))
    ) {
      logger.debug({ event_id: event.event_id }, "oom came after the die; the die is an OOM death");
      event = { ...event, oom_killed: true };
    }
    sink?.event(event);
  };

  /** Sees every line of the stream as it arrives, before it is handled: an `oom` a `die` may wait for. */
  const noteLine = (line: string): void => {
    // Most lines are not about an oom: only those that could be are parsed.
    if (!line.includes('"oom')) return;
    const parsed = parseDockerEventLine(line);
    if (!parsed.ok || parsed.event.type !== "container") return;
    if (splitDockerAction(parsed.event.action).action !== "oom") return;
    const timeNano = dockerEventTimeNano(parsed.event);
    if (timeNano === undefined || parsed.event.actorId === "") return;
    lateOom.noteOom(parsed.event.actorId, timeNano);
  };

  const splitterFor = () =>
    createLineSplitter({
      maxLineLength: DEFAULT_MAX_LINE_LENGTH,
      onOversizedLine: (length) => logger.warn({ length }, "oversized Docker event line skipped"),
    });

  const consume = async (stream: DockerEventStream): Promise<void> => {
    const splitter = splitterFor();
    const take = (line: string): void => {
      noteLine(line);
      tasks.schedule(() => handleLine(line), "handling a Docker event");
    };
    for await (const chunk of stream) {
      for (const line of splitter.push(chunk)) take(line);
    }
    for (const line of splitter.end()) take(line);
  };

  /**
   * The events dockerd buffered between `since` and the new subscription, read to their end.
   * Events of the new stream that repeat them are recognized by id. If the replay cannot be
   * read, the stream's own `since` replay still brings them, only after the resynchronization.
   */
  const replayGap = async (since: number, untilNano: bigint, signal: AbortSignal): Promise<void> => {
    const replayEvents = docker.replayEvents;
    if (replayEvents === undefined) return;
    // Ends the request when the follower stops, and bounds a dockerd that answers but never ends.
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(replayTimeoutMs)]);
    let stream: DockerEventStream | undefined;
    const onAbort = () => stream?.destroy();
    bounded.addEventListener("abort", onAbort, { once: true });
    try {
      stream = await replayEvents(
        { since, until: nanosToDockerTime(untilNano), filters: { type: ["container"] } },
        bounded,
      );
      const splitter = splitterFor();
      const lines: string[] = [];
      for await (const chunk of stream) {
        if (bounded.aborted) throw new Error(`replay did not end within ${replayTimeoutMs} ms`);
        lines.push(...splitter.push(chunk));
      }
      if (bounded.aborted) throw new Error(`replay did not end within ${replayTimeoutMs} ms`);
      lines.push(...splitter.end());
      for (const line of lines) noteLine(line);
      for (const line of lines) await handleLine(line);
      logger.debug({ since, replayed: lines.length }, "replayed the events of the gap");
    } catch (error) {
      if (!signal.aborted) logger.warn({ err: error, since }, "cannot replay the events of the gap");
    } finally {
      bounded.removeEventListener("abort", onAbort);
      stream?.destroy();
    }
  };

  const startLivenessProbe = (stream: DockerEventStream): (() => void) => {
    let probing = false;
    const timer = setInterval(() => {
      if (probing) return;
      probing = true;
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new Error(`no answer in ${probeTimeoutMs} ms`)), probeTimeoutMs);
      });
      Promise.race([docker.ping(), timedOut])
        .catch((error: unknown) => {
          logger.warn({ err: error }, "dockerd does not answer a ping; reopening the event stream");
          stream.destroy();
        })
        .finally(() => {
          clearTimeout(timeout);
          probing = false;
        });
    }, probeIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  };

  const follow = async (resumed: boolean): Promise<void> => {
    const signal = stopping.signal;
    let subscribedBefore = false;
    while (!signal.aborted) {
      const since = sinceSeconds();
      const opening = docker.getEvents({
        filters: { type: ["container"] },
        ...(since === undefined ? {} : { since }),
      });
      let stream: DockerEventStream | undefined;
      try {
        stream = await unlessAborted(opening, signal);
      } catch (error) {
        outage.failed(error, "cannot subscribe to Docker events");
        await abortableSleep(backoff.next(), signal);
        continue;
      }
      if (stream === undefined) {
        // Stopped while dockerd was answering: close the stream it may still hand over.
        opening.then(
          (late) => late.destroy(),
          () => undefined,
        );
        break;
      }

      const openedAtMs = Date.now();
      firstSubscribedAtMs ??= openedAtMs;
      currentStream = stream;
      if (outage.ongoing) outage.recovered(openedAtMs, "Docker event stream reopened", { since });
      else logger.info({ since }, "following Docker events");
      const reason: SubscriptionReason = subscribedBefore ? "resync" : "startup";
      const untilNano = msToNanos(openedAtMs);
      const replay = since !== undefined && (reason === "resync" || resumed);
      tasks.schedule(async () => {
        if (replay) await replayGap(since, untilNano, signal);
        if (!signal.aborted) await sink?.subscribed(reason, signal);
      }, "resynchronizing after subscribing");
      subscribedBefore = true;

      const stopProbe = startLivenessProbe(stream);
      let endError: unknown = new Error("dockerd closed the event stream");
      try {
        await consume(stream);
      } catch (error) {
        endError = error;
      } finally {
        stopProbe();
        currentStream = undefined;
      }
      if (signal.aborted) break;
      if (Date.now() - openedAtMs >= healthyAfterMs) backoff.reset();
      outage.failed(endError, "Docker event stream ended");
      await abortableSleep(backoff.next(), signal);
    }
  };

  return {
    start(eventSink, resume) {
      if (loop !== undefined) return;
      sink = eventSink;
      if (resume !== undefined) {
        publishedThroughNano = resume.afterNano;
        lastEventNano = resume.afterNano;
      }
      loop = follow(resume !== undefined).catch((error: unknown) => {
        // Nothing in the loop should throw. If it does, a watcher that no longer follows events
        // must not look alive: the rethrown rejection is unhandled and ends the process.
        logger.fatal({ err: error }, "Docker event follower crashed");
        throw error;
      });
    },
    async stop() {
      stopping.abort();
      currentStream?.destroy();
      await loop?.catch(() => undefined);
      // The last tasks: the stream is closed, so nothing is added any more.
      await tasks.idle();
    },
    isConnected: () => currentStream !== undefined,
  };
}
