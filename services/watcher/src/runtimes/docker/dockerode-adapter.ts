// Builds the watcher's DockerApi from dockerode, talking to dockerd over its Unix socket.
import type { IncomingMessage } from "node:http";
import Docker from "dockerode";
import type { DockerApi, DockerEventStream, DockerLogStream } from "./docker-api.ts";
import { DockerNotFoundError } from "./docker-errors.ts";

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && "statusCode" in error && error.statusCode === 404;
}

async function translateNotFound<T>(ref: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (isNotFound(error)) throw new DockerNotFoundError(ref, { cause: error });
    throw error;
  }
}

/** One streaming GET through docker-modem: resolves with the response once dockerd answered 200. */
function openStream(
  modem: Docker["modem"],
  path: string,
  query: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    modem.dial(
      {
        path,
        method: "GET",
        options: query,
        isStream: true,
        ...(signal === undefined ? {} : { abortSignal: signal }),
        // Every other status is turned into an Error carrying statusCode and dockerd's message.
        statusCodes: { 200: true },
      },
      (error, result) => {
        if (error) reject(error);
        // isStream: the result is the http.IncomingMessage of the request.
        else resolve(result as IncomingMessage);
      },
    );
  });
}

export function createDockerodeApi(options: { socketPath: string }): DockerApi {
  // No client timeout: docker-modem applies it to the event and log streams too, which are idle
  // for as long as nothing happens. Calls are bounded by the callers' abort signals instead,
  // and event-stream stalls by the follower's liveness probe.
  const docker = new Docker({ socketPath: options.socketPath });
  return {
    async getEvents(eventOptions) {
      // dockerode types the stream as NodeJS.ReadableStream; at run time it is the
      // http.IncomingMessage of the request, which has destroy().
      return (await docker.getEvents(eventOptions)) as unknown as DockerEventStream;
    },
    // dockerode's typings want `until` as a number; dockerd also takes `seconds.nanoseconds`.
    replayEvents: (replayOptions, signal) =>
      openStream(docker.modem, "/events?", { ...replayOptions }, signal),
    listContainers: ({ all, signal }) =>
      docker.listContainers({ all, ...(signal === undefined ? {} : { abortSignal: signal }) }),
    inspectContainer: (ref, inspectOptions) =>
      translateNotFound(
        ref,
        // Names and ids never need escaping; encoding keeps an odd reference inside the path.
        docker
          .getContainer(encodeURIComponent(ref))
          .inspect(inspectOptions?.signal === undefined ? {} : { abortSignal: inspectOptions.signal }),
      ),
    async containerLogs(id, logOptions, signal) {
      // dockerode's logs() buffers the whole answer unless following; the stream is read as it comes.
      const query: Record<string, unknown> = {
        stdout: logOptions.stdout,
        stderr: logOptions.stderr,
        timestamps: logOptions.timestamps,
        follow: logOptions.follow,
        tail: logOptions.tail === undefined ? "all" : String(logOptions.tail),
      };
      if (logOptions.since !== undefined) query.since = logOptions.since;
      if (logOptions.until !== undefined) query.until = logOptions.until;
      const path = `/containers/${encodeURIComponent(id)}/logs?`;
      return (await translateNotFound(id, openStream(docker.modem, path, query, signal))) as DockerLogStream;
    },
    ping: () => docker.ping(),
  };
}
