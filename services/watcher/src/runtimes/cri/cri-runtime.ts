// The CRI runtime of the watcher: a node's CRI socket (configured, or the first default one that
// answers), the host name (configured, or the machine's: the CRI reports none), and the status
// cache with the watcher, inspections and log answers built on it. Published as the Kubernetes
// runtime publishes a node's pods, with runtime `cri`.
import { hostname } from "node:os";
import { ContainerdClient } from "@crowsnest/shared/containerd";
import { openCriClient } from "@crowsnest/shared/cri";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import type { WatcherRuntimeModule } from "../watcher-runtime.ts";
import { createCriInspector, createCriRunLookup } from "./cri-inspector.ts";
import { createCriLogsResponder } from "./cri-logs-responder.ts";
import { criRecordCodec } from "./cri-record-codec.ts";
import { CriStatusCache } from "./cri-status-cache.ts";
import { createCriWatcher } from "./cri-watcher.ts";

export const criRuntime: WatcherRuntimeModule<"cri"> = {
  async prepare(config, logger) {
    const settings = config.cri;
    const client = await openCriClient(settings.socketPath, settings.timeoutMs);
    // A configured runtime that is not up yet is not fatal: the polls keep asking.
    try {
      const runtime = await withDeadline("asking the CRI runtime its version", settings.timeoutMs, (signal) =>
        client.negotiate(signal),
      );
      logger.info(
        {
          cri_socket: client.socketPath,
          cri_api: client.apiVersion,
          runtime_name: runtime.runtimeName,
          runtime_version: runtime.runtimeVersion,
        },
        "reached the CRI runtime",
      );
    } catch (error) {
      logger.warn(
        { err: error, cri_socket: client.socketPath },
        "cannot reach the CRI runtime yet (CROWSNEST_CRI_SOCKET); polling it until it answers",
      );
    }
    const host = config.hostName ?? hostname();
    return {
      host,
      describe: {
        cri_socket: client.socketPath,
        cri_api: client.apiVersion,
        poll_interval_ms: settings.pollIntervalMs,
      },
      runtimeApiVersion: () => client.negotiatedApiVersion,
      build(context) {
        // containerd's own API on the same socket (CRI-O has none: UNIMPLEMENTED, polls alone).
        const containerd = new ContainerdClient({ socketPath: client.socketPath });
        const cache = new CriStatusCache({ client, logger: context.logger, timeoutMs: settings.timeoutMs });
        const runs = createCriRunLookup(cache, 2 * settings.pollIntervalMs);
        return {
          watcher: createCriWatcher({
            cache,
            events: client,
            taskDeletions: (signal) => taskDeletionsOn(containerd, signal),
            js: context.js,
            subjects: context.subjects,
            host,
            logger: context.logger,
            pollIntervalMs: settings.pollIntervalMs,
            inventoryIntervalMs: config.inventoryIntervalMs,
            maxPayloadBytes: context.maxPayloadBytes,
            publishedState: context.publishedState(criRecordCodec),
          }),
          logs: createCriLogsResponder({
            runs,
            nc: context.nc,
            logger: context.logger,
            logRoot: settings.logRoot,
            maxConcurrent: config.logsMaxConcurrent,
            maxDurationMs: config.logsFollowMaxMs,
            probeIntervalMs: config.logsFollowProbeIntervalMs,
            maxPayloadBytes: context.maxPayloadBytes,
          }),
          inspect: createCriInspector(runs, host),
          close: () => {
            client.close();
            containerd.close();
          },
        };
      },
    };
  },
};

/** The container ids of containerd's `/tasks/delete` events, from now on. */
async function* taskDeletionsOn(containerd: ContainerdClient, signal: AbortSignal): AsyncGenerator<string> {
  for await (const event of containerd.subscribe(['topic=="/tasks/delete"'], signal)) {
    const id = event.payload?.container_id;
    if (typeof id === "string" && id !== "") yield id;
  }
}
