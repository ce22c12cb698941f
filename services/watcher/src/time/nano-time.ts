// Docker's times, kept exact: inspect gives RFC 3339 with nanoseconds (`2026-11-21T20:51:13.123456789Z`,
// and `0001-01-01T00:00:00Z` for "never"), the bus wants milliseconds, and `since`/`until` of
// the events and logs endpoints take `seconds.nanoseconds`. Nanoseconds are bigints: they do
// not fit a double.

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const NANOS_PER_MS = 1_000_000n;
const NANOS_PER_SECOND = 1_000_000_000n;
// The end of year 9999: later times have no RFC 3339 form (toISOString would throw).
const MAX_NANOS = 253_402_300_799_999_999_999n;

/**
 * Nanoseconds since the epoch of an RFC 3339 time; undefined for anything else and for times at
 * or before the epoch, which is how Docker says "never" (the zero time of Go is year 1).
 */
export function rfc3339ToNanos(value: unknown): bigint | undefined {
  if (typeof value !== "string") return undefined;
  const match = RFC3339.exec(value.trim());
  if (match === null) return undefined;
  const [, wholeSeconds = "", fraction = "", zone = "Z"] = match;
  const ms = Date.parse(`${wholeSeconds}${zone}`);
  if (Number.isNaN(ms) || ms <= 0) return undefined;
  const nanos = BigInt(ms) * NANOS_PER_MS + BigInt(fraction.padEnd(9, "0"));
  return nanos > MAX_NANOS ? undefined : nanos;
}

/** The bus's timestamp (RFC 3339 UTC, milliseconds) of a nanosecond time. */
export function nanosToTimestamp(nanos: bigint): string {
  return new Date(Number(nanos / NANOS_PER_MS)).toISOString();
}

export function msToNanos(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * NANOS_PER_MS;
}

/** `seconds.nanoseconds`, the form dockerd's `since` and `until` parameters take. */
export function nanosToDockerTime(nanos: bigint): string {
  const seconds = nanos / NANOS_PER_SECOND;
  const rest = nanos % NANOS_PER_SECOND;
  return `${seconds}.${rest.toString().padStart(9, "0")}`;
}

/** The bus timestamp of an RFC 3339 time, or null when it is absent or Docker's "never". */
export function rfc3339ToTimestamp(value: unknown): string | null {
  const nanos = rfc3339ToNanos(value);
  return nanos === undefined ? null : nanosToTimestamp(nanos);
}
