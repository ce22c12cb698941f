// Which CRI socket a cri-mode service talks to: CROWSNEST_CRI_SOCKET when set, else the first of
// the usual sockets that answers the CRI's Version call (containerd's, then CRI-O's). A socket that
// exists but is not a CRI runtime (containerd with its CRI plugin disabled) does not answer it, so
// the search goes on to the next.
import { CrowsnestError } from "../errors/crowsnest-error.ts";
import { withDeadline } from "../util/call-deadline.ts";
import { CriClient } from "./cri-client.ts";

/** Where containerd's CRI plugin and CRI-O listen by default, in the order they are tried. */
export const DEFAULT_CRI_SOCKETS: readonly string[] = [
  "/run/containerd/containerd.sock",
  "/run/crio/crio.sock",
];

export class CriSocketNotFoundError extends CrowsnestError {
  constructor(attempts: readonly { socket: string; error: string }[]) {
    super(
      "cri_socket_not_found",
      `no CRI runtime answers on ${attempts.map((attempt) => `${attempt.socket} (${attempt.error})`).join(", ")}; set CROWSNEST_CRI_SOCKET to the runtime's socket (k3s: /run/k3s/containerd/containerd.sock) and mount it into the service`,
    );
  }
}

function describe(error: unknown): string {
  if (typeof error === "object" && error !== null && "details" in error) return String(error.details);
  return error instanceof Error ? error.message : String(error);
}

/**
 * A client of the configured socket (not asked yet: a runtime that is down is waited for), or of
 * the first default socket whose runtime answers, negotiated. Throws CriSocketNotFoundError when
 * none is configured and none answers.
 */
export async function openCriClient(configured: string | undefined, timeoutMs: number): Promise<CriClient> {
  if (configured !== undefined) return new CriClient(configured);
  const attempts: { socket: string; error: string }[] = [];
  for (const socket of DEFAULT_CRI_SOCKETS) {
    const client = new CriClient(socket);
    try {
      await withDeadline(`asking ${socket} its CRI version`, timeoutMs, (signal) => client.negotiate(signal));
      return client;
    } catch (error) {
      client.close();
      attempts.push({ socket, error: describe(error) });
    }
  }
  throw new CriSocketNotFoundError(attempts);
}
