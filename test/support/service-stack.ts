// Crowsnest's services as real processes on one test database and subject prefix, for the
// end-to-end tests: started with the common settings, the api on a free loopback port, and
// ready when the store consumes, the api listens and the api has reached the bus (it listens
// before NATS answers, and what these tests ask of it needs the bus).
import { type ServiceName, type ServiceProcess, startService } from "./service-process.ts";

/**
 * How long a service may take to start. Alone on an idle machine it takes about a second; but
 * loading a service's modules from source costs about 1 s of CPU, which became 8-12 s with the
 * load average at 30-45 on 2 cores, and four services start at once (the store also migrating
 * a fresh database): 30 s was seen to pass before the store had logged anything.
 */
const START_TIMEOUT_MS = 120_000;

export interface ServiceStack {
  readonly services: readonly ServiceProcess[];
  /** `http://127.0.0.1:<port>` of the api, when it was started. */
  readonly apiBase: string;
  /** SIGTERM to every service; their exit codes by name. */
  stop(): Promise<Record<string, number | null>>;
}

export interface ServiceStackOptions {
  /** Started in this order, each with `common` and its own settings from `env`. */
  services: readonly ServiceName[];
  common: Record<string, string>;
  env?: Partial<Record<ServiceName, Record<string, string>>>;
}

export async function startServiceStack(options: ServiceStackOptions): Promise<ServiceStack> {
  const extra = (name: ServiceName): Record<string, string> =>
    name === "api" ? { CROWSNEST_API_PORT: "0", CROWSNEST_API_LISTEN_HOST: "127.0.0.1" } : {};
  const services = options.services.map((name) =>
    startService(name, { ...options.common, ...extra(name), ...options.env?.[name] }),
  );
  const stack = {
    services,
    apiBase: "",
    async stop() {
      const exitCodes = await Promise.all(
        services.map(async (service) => [service.name, await service.stop()]),
      );
      return Object.fromEntries(exitCodes) as Record<string, number | null>;
    },
  };
  try {
    for (const service of services) {
      if (service.name === "store") {
        await service.waitForLog((record) => record.msg === "store started", START_TIMEOUT_MS);
      }
      if (service.name === "api") {
        const listening = await service.waitForLog(
          (record) => record.msg === "api listening",
          START_TIMEOUT_MS,
        );
        stack.apiBase = `http://127.0.0.1:${listening.port as number}`;
        await service.waitForLog((record) => record.msg === "api connected to the bus", START_TIMEOUT_MS);
      }
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}
