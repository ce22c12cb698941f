// The containerd runtime's RuntimeEventSource: follows containerd's event service and yields the
// normalized lifecycle events, with reconnects.
//
// Race-free without an acknowledgement from containerd: after opening the stream, the source
// publishes a probe event of its own with a fresh nonce (again every probeRetryMs until it comes
// back) and marks the subscription only when that probe arrives on the stream. Whatever happens
// after the mark is in the stream, so the core's look at every container (on the mark) misses
// nothing. containerd replays nothing after a reconnect: the look after each resubscription is
// what finds the transitions of the gap (the core synthesizes them).
//
// Events are handled one at a time in stream order on one chain (a `die` waits for the name of
// its container, or a moment for an `oom` reported just after it); the stream is read all the
// while, so a slow step never makes containerd drop the subscriber.
import { randomUUID } from "node:crypto";
import type { EventMessage, Logger } from "@crowsnest/shared/agent";
import {
  type ContainerdClient,
  type ContainerdEvent,
  containerdExternalId,
  SUBSCRIPTION_PROBE_TOPIC,
} from "@crowsnest/shared/containerd";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { type BackoffOptions, CappedBackoff } from "@crowsnest/shared/util/capped-backoff";
import { LateOomWatch } from "../../following/late-oom-watch.ts";
import { OomMemory } from "../../following/oom-memory.ts";
import type {
  RuntimeEventSink,
  RuntimeEventSource,
  SubscriptionReason,
} from "../../following/runtime-event-source.ts";
import { SerialTasks, StreamOutage } from "../../following/stream-outage.ts";
import type { ContainerIdentities } from "./container-identities.ts";
import { timestampNanos } from "./containerd-container-mapper.ts";
import { labelsOf, normalizeContainerdEvent } from "./containerd-event-normalizer.ts";
import type { NamespaceSelection } from "./containerd-namespaces.ts";

export interface ContainerdEventSourceOptions {
  client: Pick<ContainerdClient, "subscribe" | "publishSubscriptionProbe" | "version" | "metrics">;
  namespaces: NamespaceSelection;
  identities: ContainerIdentities;
  host: string;
  logger: Logger;
  /** Deadline of each call (the probe's publish, the liveness check). */
  timeoutMs: number;
  /** Delay between attempts to resubscribe. */
  reconnect?: BackoffOptions;
  /** A stream open at least this long was healthy: the next outage starts again from the initial delay. */
  healthyAfterMs?: number;
  /** How often the probe is published again until it comes back. */
  probeRetryMs?: number;
  /** A subscription whose probe has not come back by then is given up and opened anew. */
  probeTimeoutMs?: number;
  /**
   * How often containerd is asked its version while the stream is open: a connection that died
   * without closing raises nothing on an event stream, which is silent when the host is quiet.
   */
  livenessProbeIntervalMs?: number;
  /**
   * How long a `die` with exit status 137 that no `oom` marked waits for one sent after it, when
   * the task's cgroup cannot tell (the task was deleted at once).
   */
  lateOomWaitMs?: number;
}

export const DEFAULT_RECONNECT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export function createContainerdEventSource(options: ContainerdEventSourceOptions): RuntimeEventSource {
  const { client, namespaces, identities, host, logger, timeoutMs } = options;
  const backoff = new CappedBackoff(options.reconnect ?? DEFAULT_RECONNECT_BACKOFF);
  const healthyAfterMs = options.healthyAfterMs ?? 30_000;
  const probeRetryMs = options.probeRetryMs ?? 250;
  const probeTimeoutMs = options.probeTimeoutMs ?? 10_000;
  const livenessIntervalMs = options.livenessProbeIntervalMs ?? 30_000;
  const lateOomWaitMs = options.lateOomWaitMs ?? 1000;
  const oom = new OomMemory();
  const lateOom = new LateOomWatch({ windowMs: Math.max(lateOomWaitMs, 1000) });
  const stopping = new AbortController();
  let sink: RuntimeEventSink | undefined;
  const tasks = new SerialTasks(logger);
  const outage = new StreamOutage(logger, backoff);
  let loop: Promise<void> | undefined;
  /** Set while a stream is open and its probe has come back. */
  let confirmed = false;

  /**
   * The OOM kills the task's cgroup counted, read right after its exit (the cgroup lives until
   * the task is deleted): a SIGKILL that was no OOM kill then costs no wait for a late `oom`.
   * Undefined when the task or its counter is gone.
   */
  const oomKills = async (namespace: string, id: string): Promise<number | undefined> => {
    try {
      const [metric] = await withDeadline("reading the exited task's OOM count", timeoutMs, (signal) =>
        client.metrics(namespace, [`id==${id}`], signal),
      );
      const cgroup = metric?.cgroup;
      if (cgroup?.version === 1) return cgroup.memory_oom_control?.oom_kill;
      if (cgroup?.version === 2) return cgroup.memory_events?.oom_kill;
      return undefined;
    } catch {
      return undefined;
    }
  };

  const handle = async (raw: ContainerdEvent): Promise<void> => {
    if (!namespaces.includes(raw.namespace)) return;
    // Events carry the container's id alone: its name, image and labels come from what the
    // watcher knows, else from containerd (a removed container is no longer there to ask).
    const id = String(raw.payload?.container_id || raw.payload?.id || "");
    if (id !== "" && raw.topic !== "/containers/delete") await identities.ensure(raw.namespace, id);
    const result = normalizeContainerdEvent(raw, {
      host,
      identity: (namespace, containerId) => identities.get(namespace, containerId),
      wasOomKilled: (busId, at) => oom.wasOomKilled(busId, at),
    });
    if (result.kind === "skipped") return;
    if (result.kind === "invalid") {
      logger.warn({ detail: result.detail, topic: raw.topic }, "unusable containerd event skipped");
      return;
    }
    let event: EventMessage = result.event;
    const busId = event.actor.external_id;
    const timeNano = BigInt(event.ts_nano ?? "0");
    if (event.action === "oom") {
      lateOom.handled(busId, timeNano);
      if (oom.isRepeatedOom(busId, timeNano)) {
        sink?.repeated(event);
        return;
      }
    }
    oom.observe(event.action, busId, timeNano);
    if (event.action === "die" && event.exit_code === 137 && event.oom_killed !== true) {
      const counted = await oomKills(raw.namespace, id);
      const oomKilled =
        counted === undefined
          ? await lateOom.arrives(busId, timeNano, lateOomWaitMs, stopping.signal)
          : counted > 0;
      if (oomKilled) event = { ...event, oom_killed: true };
    }
    if (raw.topic === "/containers/delete") identities.forget(raw.namespace, id);
    if (raw.topic === "/containers/update" && event.action === "rename") {
      identities.set(raw.namespace, id, {
        name: event.actor.name,
        image: event.image ?? "",
        labels: labelsOf(raw.payload?.labels),
      });
    }
    sink?.event(event);
  };

  /** Reads one subscription until it ends; marks it once this subscriber's probe comes back. */
  const readSubscription = async (reason: SubscriptionReason, signal: AbortSignal): Promise<void> => {
    const nonce = randomUUID();
    const ended = new AbortController();
    const streamSignal = AbortSignal.any([signal, ended.signal]);
    let probeSeen = false;
    const probing = (async () => {
      const deadline = Date.now() + probeTimeoutMs;
      while (!probeSeen && !streamSignal.aborted) {
        if (Date.now() > deadline) {
          logger.warn(
            { probe_timeout_ms: probeTimeoutMs },
            "containerd did not deliver the subscription probe",
          );
          ended.abort();
          return;
        }
        try {
          await withDeadline("publishing the subscription probe", timeoutMs, (callSignal) =>
            client.publishSubscriptionProbe(
              namespaces.probeNamespace,
              nonce,
              AbortSignal.any([callSignal, streamSignal]),
            ),
          );
        } catch (error) {
          if (!streamSignal.aborted) logger.debug({ err: error }, "cannot publish the subscription probe");
        }
        await abortableSleep(probeRetryMs, streamSignal);
      }
    })();
    const liveness = setInterval(() => {
      withDeadline("asking containerd its version", timeoutMs, (callSignal) =>
        client.version(callSignal),
      ).catch((error: unknown) => {
        logger.warn({ err: error }, "containerd does not answer; reopening the event stream");
        ended.abort();
      });
    }, livenessIntervalMs);
    liveness.unref();
    try {
      for await (const raw of client.subscribe(namespaces.subscribeFilters, streamSignal)) {
        if (raw.topic === SUBSCRIPTION_PROBE_TOPIC) {
          if (!probeSeen && raw.payload?.nonce === nonce) {
            probeSeen = true;
            confirmed = true;
            outage.recovered(Date.now(), "containerd event stream reopened");
            tasks.schedule(async () => {
              if (!signal.aborted) await sink?.subscribed(reason, signal);
            }, "resynchronizing after subscribing");
          }
          continue;
        }
        if (raw.topic === "/tasks/oom") {
          const containerId = String(raw.payload?.container_id ?? "");
          const at = timestampNanos(raw.timestamp);
          if (containerId !== "" && at !== undefined)
            lateOom.noteOom(containerdExternalId(raw.namespace, containerId), at);
        }
        tasks.schedule(() => handle(raw), "handling a containerd event");
      }
      if (!signal.aborted) {
        throw new Error(
          ended.signal.aborted ? "the event stream was given up" : "containerd closed the event stream",
        );
      }
    } finally {
      clearInterval(liveness);
      confirmed = false;
      ended.abort();
      await probing;
    }
  };

  const follow = async (): Promise<void> => {
    const signal = stopping.signal;
    let reason: SubscriptionReason = "startup";
    while (!signal.aborted) {
      const openedAtMs = Date.now();
      if (!outage.ongoing) logger.info({ reason }, "following containerd events");
      try {
        await readSubscription(reason, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (Date.now() - openedAtMs >= healthyAfterMs) backoff.reset();
        outage.failed(error, "containerd event stream ended");
      }
      if (signal.aborted) break;
      reason = "resync";
      await abortableSleep(backoff.next(), signal);
      if (outage.ongoing && !signal.aborted) {
        logger.debug({ attempts: backoff.failures }, "resubscribing to containerd events");
      }
    }
  };

  return {
    start(eventSink) {
      if (loop !== undefined) return;
      sink = eventSink;
      loop = follow().catch((error: unknown) => {
        // Nothing in the loop should throw. If it does, a watcher that no longer follows events
        // must not look alive: the rethrown rejection is unhandled and ends the process.
        logger.fatal({ err: error }, "containerd event follower crashed");
        throw error;
      });
    },
    async stop() {
      stopping.abort();
      await loop?.catch(() => undefined);
      await tasks.idle();
    },
    isConnected: () => confirmed,
  };
}
