// The host name the collector and watcher publish under: the configured one, else the one the
// container runtime reports, waited for if the runtime is not up yet (it is the subject token
// of everything they publish, so guessing one would split a host's data in two).
import type { Logger } from "../log/logger.ts";
import { retryUntilReady } from "./retry-until-ready.ts";

export async function resolveRuntimeHostName(options: {
  configured: string | undefined;
  askRuntime: () => Promise<string | undefined>;
  logger: Logger;
}): Promise<string> {
  if (options.configured !== undefined) return options.configured;
  const name = await retryUntilReady({
    what: "reading the host name from the container runtime",
    attempt: async () => {
      const reported = (await options.askRuntime())?.trim();
      if (!reported) throw new Error("the runtime reported no host name; set CROWSNEST_HOST_NAME");
      return reported;
    },
    logger: options.logger,
  });
  // retryUntilReady gives up only when told the service is stopping, which this never says.
  if (name === undefined) throw new Error("no host name");
  return name;
}
