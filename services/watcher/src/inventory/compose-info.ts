// A container's compose project, service and replica number, from the labels Docker Compose
// writes (and nerdctl compose writes the same): null when the container is not part of a project.
import type { ContainerInfo } from "@crowsnest/shared/agent";

export function composeInfo(labels: Readonly<Record<string, string>>): ContainerInfo["compose"] {
  const project = labels["com.docker.compose.project"];
  const service = labels["com.docker.compose.service"];
  if (project === undefined || service === undefined) return null;
  const number = labels["com.docker.compose.container-number"];
  const parsed = number !== undefined && /^\d+$/.test(number) ? Number(number) : null;
  return { project, service, number: parsed !== null && Number.isSafeInteger(parsed) ? parsed : null };
}
