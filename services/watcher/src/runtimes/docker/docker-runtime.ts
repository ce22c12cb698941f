// The Docker runtime of the watcher: dockerd's socket, the host name dockerd reports (unless one
// is configured), and the event follower, log streams and inspections built on dockerode.
import { resolveRuntimeHostName } from "@crowsnest/shared/agent";
import Docker from "dockerode";
import { rememberedContainerCodec } from "../../resync/remembered-container-codec.ts";
import type { WatcherRuntimeModule } from "../watcher-runtime.ts";
import { createDockerInspector } from "./docker-inspector.ts";
import { createDockerWatcher } from "./docker-watcher.ts";
import { createDockerodeApi } from "./dockerode-adapter.ts";
import { createLogsResponder } from "./logs-responder.ts";

export const dockerRuntime: WatcherRuntimeModule<"docker"> = {
  async prepare(config, logger) {
    const settings = config.docker;
    const host = await resolveRuntimeHostName({
      configured: config.hostName,
      askRuntime: async () =>
        ((await new Docker({ socketPath: settings.socketPath }).info()) as { Name?: string }).Name,
      logger,
    });
    return {
      host,
      describe: { docker_socket: settings.socketPath },
      build(context) {
        const { logger } = context;
        const docker = createDockerodeApi({ socketPath: settings.socketPath });
        return {
          watcher: createDockerWatcher({
            docker,
            js: context.js,
            subjects: context.subjects,
            host,
            logger,
            inventoryIntervalMs: config.inventoryIntervalMs,
            dockerTimeoutMs: settings.timeoutMs,
            inspectConcurrency: settings.inspectConcurrency,
            maxPayloadBytes: context.maxPayloadBytes,
            publishedState: context.publishedState(rememberedContainerCodec),
          }),
          logs: createLogsResponder({
            docker,
            nc: context.nc,
            logger,
            dockerTimeoutMs: settings.timeoutMs,
            maxConcurrent: config.logsMaxConcurrent,
            maxDurationMs: config.logsFollowMaxMs,
            probeIntervalMs: config.logsFollowProbeIntervalMs,
            maxPayloadBytes: context.maxPayloadBytes,
          }),
          inspect: createDockerInspector({ docker, timeoutMs: settings.timeoutMs }),
          close: () => undefined,
        };
      },
    };
  },
};
