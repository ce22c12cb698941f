// DockerPort over the Engine API's Unix socket with node:http and kept-alive connections. The
// collector needs four GET endpoints; a general client (dockerode pulls in gRPC, protobuf and
// SSH support) costs it about 13 MB of memory, and a new connection per call costs both it and
// dockerd CPU on every container of every tick.
import { Agent, type IncomingMessage, request } from "node:http";
import { CrowsnestError } from "@crowsnest/shared/agent";
import { field } from "@crowsnest/shared/util/json-fields";
import { ContainerGoneError, type DockerPort } from "./docker-port.ts";

/** The engine answered with an error status other than a container's 404. */
export class DockerApiError extends CrowsnestError {
  readonly statusCode: number;
  constructor(path: string, statusCode: number, detail: string) {
    super("docker_api_error", `GET ${path} answered ${statusCode}: ${detail}`);
    this.statusCode = statusCode;
  }
}

export interface DockerSocketPort extends DockerPort {
  /** `GET /info`: the engine's own description, whose `Name` is the host name it reports. */
  info(signal: AbortSignal): Promise<unknown>;
  /** Closes the kept-alive connections. */
  close(): void;
}

export interface DockerSocketPortOptions {
  socketPath: string;
  /** Most connections kept open to dockerd: the collector's concurrency is enough. */
  maxSockets: number;
}

export function createDockerSocketPort(options: DockerSocketPortOptions): DockerSocketPort {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
  });
  const get = (path: string, signal: AbortSignal) => getJson(agent, options.socketPath, path, signal);
  const getContainer = async (id: string, path: string, signal: AbortSignal) => {
    try {
      return await get(path, signal);
    } catch (error) {
      if (error instanceof DockerApiError && error.statusCode === 404)
        throw new ContainerGoneError(id, { cause: error });
      throw error;
    }
  };
  return {
    // Unversioned paths, as dockerode uses: the engine's own API version, 1.41 or later for one-shot.
    listContainers: (signal) => get("/containers/json", signal),
    oneShotStats: (id, signal) =>
      getContainer(id, `/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`, signal),
    inspectContainer: (id, signal) => getContainer(id, `/containers/${encodeURIComponent(id)}/json`, signal),
    info: (signal) => get("/info", signal),
    close: () => agent.destroy(),
  };
}

function getJson(agent: Agent, socketPath: string, path: string, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: "GET",
        agent,
        signal,
        headers: { host: "docker", accept: "application/json" },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = body === "" ? undefined : JSON.parse(body);
          } catch {
            if (status >= 400) reject(new DockerApiError(path, status, body.slice(0, 200)));
            else reject(new DockerApiError(path, status, "the answer is not JSON"));
            return;
          }
          if (status >= 400) {
            const message = field(parsed, "message");
            reject(
              new DockerApiError(path, status, typeof message === "string" ? message : body.slice(0, 200)),
            );
            return;
          }
          resolve(parsed);
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}
