// The floor the cri benchmark compares the agents with: the same CRI calls, made by a bare loop
// in a process of its own, at the same interval, doing nothing with the answers. `poll`: the
// watcher's ListPodSandbox + ListContainers; `stats`: the collector's ListContainerStats +
// ListPodSandboxStats (that one beside the ticks, as the collector calls it). Runs until SIGTERM.
import { CriClient } from "@crowsnest/shared/cri";

const socket = process.env.CRI_BARE_SOCKET ?? "";
const mode = process.env.CRI_BARE_MODE === "stats" ? "stats" : "poll";
const intervalMs = Number(process.env.CRI_BARE_INTERVAL_MS || 1000);
const client = new CriClient(socket);
let stopped = false;
let inFlight: Promise<unknown> | undefined;
process.on("SIGTERM", () => {
  stopped = true;
});
await client.negotiate(AbortSignal.timeout(10_000));
while (!stopped) {
  const signal = AbortSignal.timeout(10_000);
  const startedAtMs = Date.now();
  if (mode === "poll") await Promise.all([client.podSandboxes(signal), client.containers(signal)]);
  else {
    // As the collector: the slow sandbox stats beside the ticks, one call at a time.
    if (inFlight === undefined) {
      inFlight = client
        .podSandboxStats(AbortSignal.timeout(10_000))
        .catch(() => [])
        .finally(() => {
          inFlight = undefined;
        });
    }
    await client.containerStats(signal);
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAtMs + intervalMs - Date.now())));
}
client.close();
