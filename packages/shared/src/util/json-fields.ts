// Safe reads from JSON that came from outside (the Docker Engine API): every accessor takes
// `unknown` and answers undefined or null instead of throwing, so a missing or malformed field
// can only ever make one value unknown, never crash a tick.

export type JsonObject = Readonly<Record<string, unknown>>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value[key]` when value is an object, else undefined. */
export function field(value: unknown, key: string): unknown {
  return isJsonObject(value) ? value[key] : undefined;
}

/** Follows a path of keys, e.g. `path(stats, "cpu_stats", "cpu_usage", "total_usage")`. */
export function path(value: unknown, ...keys: readonly string[]): unknown {
  let current = value;
  for (const key of keys) current = field(current, key);
  return current;
}

/** A cumulative counter or gauge: a non-negative integer, or null when absent or not one. */
export function counter(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : null;
}

/** A strictly positive integer (a count of CPUs, a configured limit), or null. */
export function positiveInteger(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : null;
}

/** The sum of counters, or null when any of them is not a counter: a partial sum would be a wrong number. */
export function sumCounters(values: readonly unknown[]): number | null {
  let total = 0;
  for (const value of values) {
    const count = counter(value);
    if (count === null) return null;
    total += count;
  }
  return total;
}
