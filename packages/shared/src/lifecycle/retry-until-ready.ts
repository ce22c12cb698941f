// Start-up against a dependency that may not be up yet (compose starts everything at once):
// retry with capped backoff, logging once, until it answers or the caller is stopping.
import type { Logger } from "../log/logger.ts";
import { CappedBackoff } from "../util/capped-backoff.ts";

export async function retryUntilReady<T>(options: {
  what: string;
  attempt: () => Promise<T>;
  logger: Logger;
  /** Checked after each failure; when true, gives up and resolves undefined. */
  isStopping?: () => boolean;
}): Promise<T | undefined> {
  const backoff = new CappedBackoff({ initialMs: 500, maxMs: 10_000 });
  let warned = false;
  for (;;) {
    try {
      const result = await options.attempt();
      if (warned) options.logger.info(`${options.what} succeeded`);
      return result;
    } catch (error) {
      if (options.isStopping?.()) return undefined;
      if (!warned) {
        options.logger.warn({ err: error }, `${options.what} failed; retrying until it works`);
        warned = true;
      }
      await new Promise((resolve) => setTimeout(resolve, backoff.next()));
    }
  }
}
