// The fault run's (test/support/fault-run.ts) one real host: a watcher (its own process, as it ships) on a private dockerd
// (its own socket, data-root, exec-root and pidfile, no networking: test/support/private-dockerd.ts;
// the shared dockerd is never restarted), with a few containers that start and stop through the
// run. An independent recorder follows the same dockerd's events, so the events the store ends up
// with can be checked against what dockerd really did, across a restart of that dockerd.
import type Docker from "dockerode";
import { type PrivateDockerd, startPrivateDockerd } from "./private-dockerd.ts";
import { type ServiceProcess, startService } from "./service-process.ts";

/** The container actions the watcher publishes (docs/watcher.md). */
const PUBLISHED_ACTIONS = new Set([
  "create",
  "start",
  "stop",
  "die",
  "kill",
  "oom",
  "pause",
  "unpause",
  "restart",
  "destroy",
]);

export interface RecordedEvent {
  externalId: string;
  action: string;
  /** The event id the watcher gives a live event (`<host>/docker/<ts_nano>/<id>/<action>`). */
  eventId: string;
}

export interface WatcherHost {
  readonly host: string;
  /** Stops one running container and starts one stopped one: a few real events per call. */
  churn(): Promise<void>;
  /** Stops the private dockerd (its containers die), starts it again, and starts them again. */
  restartDockerd(): Promise<{ stoppedAtMs: number; upAgainAtMs: number; restartedIds: string[] }>;
  /** Every container event dockerd reported, as the watcher would publish it. */
  recorded(): readonly RecordedEvent[];
  /** Stops the watcher and the recorder, removes the dockerd. */
  remove(): Promise<void>;
}

export async function startWatcherHost(options: {
  natsUrls: readonly string[];
  subjectPrefix: string;
  streamReplicas: number;
  containers: number;
  /** An image with busybox (the tests' workload image), copied from the shared dockerd. */
  image: string;
}): Promise<WatcherHost> {
  const host = "soak-watcher-host";
  const dockerd: PrivateDockerd = await startPrivateDockerd({ image: options.image });
  const recorded: RecordedEvent[] = [];
  let recording = true;
  let lastSeenNano = BigInt(Date.now()) * 1_000_000n;
  /** When the watcher was following; what happened before is its first inventory's, not an event's. */
  let followedFromNano = lastSeenNano;

  // The recorder: dockerd's own event stream, resumed after the restart from the last one seen
  // (dockerd keeps no events across a restart, so nothing before it is asked for twice).
  const follow = async (): Promise<void> => {
    while (recording) {
      try {
        const since = Number(lastSeenNano / 1_000_000_000n);
        // dockerode's typings merge the callback and promise forms; the promise gives a stream.
        const stream = (await dockerd.docker.getEvents({
          since,
          filters: { type: ["container"] },
        })) as unknown as NodeJS.ReadableStream;
        let pending = "";
        for await (const chunk of stream) {
          pending += chunk.toString();
          const lines = pending.split("\n");
          pending = lines.pop() ?? "";
          for (const line of lines) {
            if (line.trim() === "") continue;
            const event = JSON.parse(line) as { id?: string; Action?: string };
            // Read as text: nanoseconds since 1970 are past what a JavaScript number holds exactly.
            const timeNano = /"timeNano":(\d+)/.exec(line)?.[1];
            const action = event.Action?.split(":")[0] ?? "";
            if (!event.id || !PUBLISHED_ACTIONS.has(action) || timeNano === undefined) continue;
            const nano = BigInt(timeNano);
            // `since` is in whole seconds: the second the watcher started following in can hold
            // the setup's own creates and starts, which came before it.
            if (nano < followedFromNano) continue;
            const eventId = `${host}/docker/${nano}/${event.id}/${action}`;
            if (recorded.some((each) => each.eventId === eventId)) continue;
            if (nano > lastSeenNano) lastSeenNano = nano;
            recorded.push({ externalId: event.id, action, eventId });
          }
        }
      } catch {
        // dockerd restarting: follow again once it answers.
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  const containers: Docker.Container[] = [];
  for (let index = 0; index < options.containers; index++) {
    const container = await dockerd.docker.createContainer({
      name: `soak-workload-${index}`,
      Image: options.image,
      Cmd: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
      HostConfig: { NetworkMode: "none" },
    });
    await container.start();
    containers.push(container);
  }

  const watcher: ServiceProcess = startService("watcher", {
    CROWSNEST_NATS_URL: options.natsUrls.join(","),
    CROWSNEST_SUBJECT_PREFIX: options.subjectPrefix,
    CROWSNEST_STREAM_REPLICAS: String(options.streamReplicas),
    CROWSNEST_HOST_NAME: host,
    CROWSNEST_DOCKER_SOCKET: dockerd.socketPath,
    CROWSNEST_LOG_LEVEL: "info",
  });
  // The containers that run already reach the bus as the watcher's first inventory; events are
  // what happens from the moment it follows dockerd's.
  await watcher.waitForLog((record) => record.msg === "following Docker events", 120_000);
  followedFromNano = BigInt(Date.now()) * 1_000_000n;
  lastSeenNano = followedFromNano;
  const recorder = follow();

  const running = async (container: Docker.Container) => (await container.inspect()).State.Running;
  let churnIndex = 0;
  return {
    host,
    async churn() {
      // One container at a time goes down and comes back on the next call.
      const container = containers[churnIndex % containers.length];
      churnIndex += 1;
      if (container === undefined) return;
      if (await running(container)) await container.stop({ t: 2 });
      else await container.start();
    },
    async restartDockerd() {
      const stoppedAtMs = Date.now();
      await dockerd.stop();
      await dockerd.start();
      const upAgainAtMs = Date.now();
      const restartedIds: string[] = [];
      for (const container of containers) {
        if (!(await running(container))) {
          await container.start();
          restartedIds.push(container.id);
        }
      }
      return { stoppedAtMs, upAgainAtMs, restartedIds };
    },
    recorded: () => recorded,
    async remove() {
      recording = false;
      await watcher.stop().catch(() => undefined);
      await dockerd.remove();
      await recorder;
    },
  };
}
