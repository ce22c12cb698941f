// The watcher (its src/main.ts) across a restart of containerd itself, against a containerd of
// this test's own (test/support/private-containerd.ts) so that restarting it disturbs nothing
// else: containerd replays nothing, so a container killed while containerd was down must reach
// the bus once, from the comparison after the watcher's resubscription, and the heartbeat must
// say the event stream was away meanwhile.
import { readFile } from "node:fs/promises";
import { createSubjects } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  deleteTestStreams,
  type HostRecording,
  recordHost,
} from "../../../../../test/support/bus-fixtures.ts";
import {
  createPrivateContainerd,
  type PrivateContainerd,
} from "../../../../../test/support/private-containerd.ts";
import { type ServiceProcess, startService } from "../../../../../test/support/service-process.ts";
import {
  connectTestNats,
  eventually,
  natsUrl,
  testSubjectPrefix,
  uniqueSuffix,
} from "../../../../../test/support/test-env.ts";

const sharedSocket = inject("containerdSocket");
const image = `docker.io/${inject("workloadImage")}`;
const NAMESPACE = "restart-test";

describe.skipIf(!sharedSocket)("the containerd watcher across a restart of containerd", () => {
  const suffix = uniqueSuffix();
  const host = `ctrd-restart-${suffix}`;
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  let recording: HostRecording;
  let containerd: PrivateContainerd;
  let nc: NatsConnection;
  let watcher: ServiceProcess | undefined;

  beforeAll(async () => {
    containerd = await createPrivateContainerd();
    await containerd.start();
    await containerd.importImage(sharedSocket, image, NAMESPACE);
    nc = await connectTestNats();
    recording = recordHost(nc, subjects, host, "containerd");
    await nc.flush();
  }, 120_000);

  afterAll(async () => {
    await watcher?.stop();
    await containerd?.dispose();
    recording?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
  }, 120_000);

  it("publishes once the death of a container killed while containerd was down", async () => {
    const id = `killed-in-gap-${suffix}`;
    const external = `${NAMESPACE}/${id}`;
    await containerd.ctr(NAMESPACE, "run", "-d", "--label", "nerdctl/name=gap", image, id, "sleep", "600");
    watcher = startService("watcher", {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_RUNTIME: "containerd",
      CROWSNEST_CONTAINERD_SOCKET: containerd.socket,
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
      // A periodic inventory after the resync shows everything before it has been published.
      CROWSNEST_INVENTORY_INTERVAL_MS: "10000",
    });
    const startup = await eventually(
      () => recording.inventories.find((inventory) => inventory.reason === "startup"),
      {
        timeoutMs: 60_000,
        what: "the startup inventory",
      },
    );
    const listed = startup.containers.find((container) => container.external_id === external);
    expect(listed?.state).toBe("running");
    const pid = listed?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);

    await containerd.stop();
    await eventually(() => recording.heartbeats.find((beat) => beat.connected === false), {
      timeoutMs: 30_000,
      what: "a heartbeat saying the event stream is away",
    });
    // Killed while nobody could tell: its shim goes on, containerd is down.
    expect((await readFile(`/proc/${pid}/cmdline`, "utf8")).startsWith("sleep")).toBe(true);
    process.kill(pid, "SIGKILL");
    await containerd.start();

    const resync = await eventually(
      () => recording.inventories.find((inventory) => inventory.reason === "resync"),
      {
        timeoutMs: 90_000,
        what: "the resync inventory after containerd came back",
      },
    );
    expect(resync.containers.find((container) => container.external_id === external)?.state).toBe("exited");
    const die = await eventually(
      () => recording.events.find((event) => event.actor.external_id === external && event.action === "die"),
      { timeoutMs: 30_000, what: "the die of the container killed in the gap" },
    );
    expect(die).toMatchObject({ exit_code: 137, actor: { name: "gap" } });
    // Once: whether containerd's shim hands its exit on after the restart or not, a second die
    // would be a repeat. A periodic inventory after the resync shows the watcher has gone past it.
    const resyncIndex = recording.inventories.indexOf(resync);
    await eventually(
      () => recording.inventories.slice(resyncIndex + 1).find((inventory) => inventory.reason === "periodic"),
      { timeoutMs: 60_000, what: "a periodic inventory after the resync" },
    );
    expect(
      recording.events.filter((event) => event.actor.external_id === external && event.action === "die"),
    ).toHaveLength(1);
    expect(await containerd.ctr(NAMESPACE, "tasks", "list")).toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`));
    expect(recording.undecodable).toEqual([]);
  }, 300_000);
});
