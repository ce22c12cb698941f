// What a lifecycle event says about a container's current state.
import type { ContainerState } from "@crowsnest/shared";

/** The state a container is in after `action`; undefined for actions that do not change it (kill, oom, health_status). */
export function stateAfter(action: string): ContainerState | undefined {
  switch (action) {
    case "create":
      return "created";
    case "start":
    case "restart":
    case "unpause":
      return "running";
    case "pause":
      return "paused";
    case "die":
    case "stop":
      return "exited";
    default:
      return undefined;
  }
}
