// The containerd runtime of the watcher: containerd's gRPC socket, the host name (configured, or
// the machine's: containerd reports none), and the event source, container looks, inspections and
// log answers built on the containerd client. Published as a Docker host's events are, with
// runtime `containerd`: a subscriber cannot tell the two apart but by that field.
import { hostname } from "node:os";
import { ContainerdClient } from "@crowsnest/shared/containerd";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { createEventStreamWatcher } from "../../following/event-stream-watcher.ts";
import { rememberedContainerCodec } from "../../resync/remembered-container-codec.ts";
import type { WatcherRuntimeModule } from "../watcher-runtime.ts";
import { createContainerIdentities } from "./container-identities.ts";
import { createContainerdEventSource } from "./containerd-event-source.ts";
import { createContainerdInspector } from "./containerd-inspector.ts";
import { createContainerdLogsResponder } from "./containerd-logs-responder.ts";
import { namespaceSelection } from "./containerd-namespaces.ts";
import { createContainerdObserver } from "./containerd-observer.ts";
import { createProcessStartTimes } from "./process-start-time.ts";

export const containerdRuntime: WatcherRuntimeModule<"containerd"> = {
  async prepare(config, logger) {
    const settings = config.containerd;
    const client = new ContainerdClient({ socketPath: settings.socketPath });
    // Not reachable yet is not fatal: the event source keeps trying, as with a dockerd that is down.
    try {
      const { version } = await withDeadline("asking containerd its version", settings.timeoutMs, (signal) =>
        client.version(signal),
      );
      logger.info({ containerd_version: version }, "reached containerd");
    } catch (error) {
      logger.warn(
        { err: error, containerd_socket: settings.socketPath },
        "cannot reach containerd yet (CROWSNEST_CONTAINERD_SOCKET); following it once it answers",
      );
    }
    const host = config.hostName ?? hostname();
    return {
      host,
      describe: {
        containerd_socket: settings.socketPath,
        namespaces: settings.namespaces ?? "all but moby, k8s.io",
      },
      build(context) {
        const namespaces = namespaceSelection(settings.namespaces);
        const identities = createContainerIdentities({
          client,
          logger: context.logger,
          timeoutMs: settings.timeoutMs,
        });
        const observe = createContainerdObserver({
          client,
          namespaces,
          identities,
          startTimes: createProcessStartTimes(),
          logger: context.logger,
          timeoutMs: settings.timeoutMs,
        });
        const inspect = createContainerdInspector(observe);
        return {
          watcher: createEventStreamWatcher({
            runtime: "containerd",
            source: createContainerdEventSource({
              client,
              namespaces,
              identities,
              host,
              logger: context.logger,
              timeoutMs: settings.timeoutMs,
            }),
            observe,
            js: context.js,
            subjects: context.subjects,
            host,
            logger: context.logger,
            inventoryIntervalMs: config.inventoryIntervalMs,
            maxPayloadBytes: context.maxPayloadBytes,
            publishedState: context.publishedState(rememberedContainerCodec),
          }),
          logs: createContainerdLogsResponder({
            inspect,
            nc: context.nc,
            logger: context.logger,
            nerdctlDataRoot: settings.nerdctlDataRoot,
            maxConcurrent: config.logsMaxConcurrent,
            maxDurationMs: config.logsFollowMaxMs,
            probeIntervalMs: config.logsFollowProbeIntervalMs,
            maxPayloadBytes: context.maxPayloadBytes,
          }),
          inspect,
          close: () => client.close(),
        };
      },
    };
  },
};
