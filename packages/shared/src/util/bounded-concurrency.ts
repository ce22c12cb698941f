// Runs async work over a list with at most `limit` items in flight, so a host with hundreds
// of containers does not open hundreds of Docker API requests at once.

/**
 * Calls `work` for each item, at most `limit` at a time. Once `shouldStop()` is true no new
 * item is started; the ones already running finish. `work` is expected to handle its own errors.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!shouldStop()) {
      const index = next;
      if (index >= items.length) return;
      next += 1;
      await work(items[index] as T);
    }
  };
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
}
