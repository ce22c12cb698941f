// Times as container runtimes write them (dockerd, the kubelet, metrics-server): RFC 3339 with
// up to nanosecond fractions, read to the millisecond.

// RFC 3339 as Docker writes it (nanosecond fraction, `Z` or an offset). Checked before Date.parse,
// which would also accept formats that are not timestamps.
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds of an RFC 3339 time, truncating (not rounding) sub-millisecond digits. */
export function parseEngineTime(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [, dateTime, fraction = "", zone] = match;
  const millis = fraction.slice(0, 3).padEnd(3, "0");
  const ms = Date.parse(`${dateTime}.${millis}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}
