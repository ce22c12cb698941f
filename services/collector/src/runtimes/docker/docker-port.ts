// The subset of the Docker Engine API the collector needs. Answers are the engine's JSON as
// `unknown`: the sampling code checks every field it uses, so a surprising engine version or a
// half-written answer can never crash a tick. docker-socket-port.ts implements it; tests pass
// plain objects.
import { CrowsnestError } from "@crowsnest/shared/agent";

export interface DockerPort {
  /** `GET /containers/json`: the running containers. */
  listContainers(signal: AbortSignal): Promise<unknown>;
  /** `GET /containers/{id}/stats?stream=false&one-shot=true` (API 1.41): rejects with ContainerGoneError on 404. */
  oneShotStats(id: string, signal: AbortSignal): Promise<unknown>;
  /** `GET /containers/{id}/json`: rejects with ContainerGoneError on 404. */
  inspectContainer(id: string, signal: AbortSignal): Promise<unknown>;
}

/** The container was removed between being listed and being asked about: routine, not a failure. */
export class ContainerGoneError extends CrowsnestError {
  constructor(id: string, options?: ErrorOptions) {
    super("container_gone", `container ${id} no longer exists`, options);
  }
}
