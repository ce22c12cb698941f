// Workload containers for integration tests, created from the local busybox image with
// dockerode. Every container a test creates carries a label naming the test run, so a
// failed run's leftovers are easy to find and remove.
import Docker from "dockerode";
import { uniqueSuffix, workloadImage } from "./test-env.ts";

export const TEST_LABEL = "dev.crowsnest.test";

export function testDocker(): Docker {
  return new Docker();
}

export interface Workload {
  id: string;
  name: string;
  container: Docker.Container;
  remove(): Promise<void>;
}

export interface WorkloadOptions {
  /** Shell command run by busybox sh as PID 1. */
  script: string;
  namePrefix?: string;
  hostConfig?: Docker.HostConfig;
  labels?: Record<string, string>;
  /** Run with a terminal: output is one raw stream instead of multiplexed stdout/stderr. */
  tty?: boolean;
  healthcheck?: Docker.HealthConfig;
  /** Seconds `docker stop` (and a stopping dockerd) waits after SIGTERM before SIGKILL. */
  stopTimeoutSeconds?: number;
}

export async function startWorkload(docker: Docker, options: WorkloadOptions): Promise<Workload> {
  const name = `${options.namePrefix ?? "crowsnest-test"}-${uniqueSuffix()}`;
  const container = await docker.createContainer({
    name,
    Image: workloadImage(),
    Cmd: ["/bin/sh", "-c", options.script],
    Labels: { [TEST_LABEL]: "1", ...options.labels },
    HostConfig: { NetworkMode: "none", ...options.hostConfig },
    ...(options.tty === undefined ? {} : { Tty: options.tty }),
    ...(options.healthcheck === undefined ? {} : { Healthcheck: options.healthcheck }),
    ...(options.stopTimeoutSeconds === undefined ? {} : { StopTimeout: options.stopTimeoutSeconds }),
  });
  await container.start();
  return {
    id: container.id,
    name,
    container,
    async remove() {
      await container.remove({ force: true }).catch(() => undefined);
    },
  };
}
