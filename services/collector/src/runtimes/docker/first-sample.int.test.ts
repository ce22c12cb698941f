// A container started at any moment of the collector's tick is sampled within two intervals,
// on the cgroup fast path with the container list reused (the default). runc creates a
// container's cgroup up to seconds before dockerd lists the container as running: a tick in
// that gap saw the new cgroup but a list without the container, and the unchanged cgroups then
// kept that list in use until it was a minute old.
import { createLogger, type StatsMessage } from "@crowsnest/shared";
import { afterAll, describe, expect, it } from "vitest";
import { startWorkload, testDocker, type Workload } from "../../../../../test/support/docker-workloads.ts";
import { eventually } from "../../../../../test/support/test-env.ts";
import type { StatsSink } from "../../core/stats-sink.ts";
import { createDockerSocketPort } from "./docker-socket-port.ts";
import { setUpFileReader } from "./file-reader-setup.ts";
import { dockerSampler } from "./fixtures/docker-sampler.ts";

const INTERVAL_MS = 1000;
/** Starts spread over the tick: each one 1/STARTS of an interval later in the tick than the last. */
const STARTS = 8;

describe("a container started at any phase of the tick", () => {
  const docker = testDocker();
  const workloads: Workload[] = [];
  const port = createDockerSocketPort({ socketPath: "/var/run/docker.sock", maxSockets: 8 });
  /** When each sample of each container reached the sink. */
  const sampleTimesMs = new Map<string, number[]>();
  const sink: StatsSink = {
    publish(message: StatsMessage) {
      const id = message.container.external_id;
      const times = sampleTimesMs.get(id) ?? [];
      times.push(Date.now());
      sampleTimesMs.set(id, times);
      return { status: "published" } as const;
    },
  };
  const samplesOf = (id: string): number => sampleTimesMs.get(id)?.length ?? 0;
  const logger = createLogger({ service: "collector", level: "warn" });
  const files = setUpFileReader({ source: "auto", cgroupRoot: "/sys/fs/cgroup", procRoot: "/proc", logger });
  // The whole host's list, as in production: other tests' containers come and go meanwhile.
  const collector = dockerSampler({
    docker: port,
    sink,
    host: "first-sample",
    intervalMs: INTERVAL_MS,
    concurrency: 8,
    dockerTimeoutMs: 5000,
    files,
    listMaxAgeMs: 60_000,
    logger,
  });

  afterAll(async () => {
    await collector.stop();
    port.close();
    await Promise.all(workloads.map((workload) => workload.remove()));
  });

  it("is sampled within two intervals of dockerd having started it", { timeout: 240_000 }, async () => {
    if (files === undefined)
      throw new Error("this host's cgroup files are not readable: no fast path to test");
    await collector.start();
    // Its samples mark the ticks.
    const anchor = await startWorkload(docker, {
      script: "sleep 3600",
      namePrefix: "crowsnest-first-sample",
    });
    workloads.push(anchor);
    await eventually(() => (samplesOf(anchor.id) > 0 ? true : undefined), {
      // Generous: started at the wrong moment, it once waited for the list to be a minute old.
      timeoutMs: 75_000,
      what: "the first sample of the anchor container",
    });
    const delays: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      // One at a time, so no other start changes the host's cgroups and makes a new list happen.
      const ticked = samplesOf(anchor.id);
      await eventually(() => (samplesOf(anchor.id) > ticked ? true : undefined), {
        timeoutMs: 30_000,
        what: "the next tick",
      });
      await new Promise((resolve) => setTimeout(resolve, (i * INTERVAL_MS) / STARTS));
      const workload = await startWorkload(docker, {
        script: "sleep 3600",
        namePrefix: "crowsnest-first-sample",
      });
      workloads.push(workload);
      // start() returns once dockerd has the container running (and lists it).
      const startedAtMs = Date.now();
      // Waited for a little longer than the limit, so a late sample shows how late it was.
      const firstAtMs = await eventually(() => sampleTimesMs.get(workload.id)?.[0], {
        timeoutMs: 2 * INTERVAL_MS + 3000,
        what: `a sample of the container started at ${i}/${STARTS} of the tick`,
      }).catch(() => Number.POSITIVE_INFINITY);
      delays.push(firstAtMs - startedAtMs);
    }
    for (const delay of delays)
      expect(delay, `delays ${delays.join(", ")} ms`).toBeLessThanOrEqual(2 * INTERVAL_MS);
  });
});
