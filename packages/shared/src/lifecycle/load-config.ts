// Reads a service's configuration at start; on a bad value it writes one JSON log line
// naming every wrong variable and exits 1, before anything else has started.
import { ConfigError } from "../errors/crowsnest-error.ts";
import { createLogger } from "../log/logger.ts";

export function loadConfigOrExit<C>(service: string, read: () => C): C {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger({ service, level: "info" }).fatal({ code: error.code }, error.message);
    process.exit(1);
  }
}
