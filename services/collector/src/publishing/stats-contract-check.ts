// A quick check that a stats message this collector built satisfies the contract, for the
// publisher's hot path: one message per container per tick. Running the contract's zod schema on
// each costs about as much as reading the container's files; these plain comparisons cost a
// fraction of that. The check only ever says yes to what the schema accepts (its test holds it
// against the schema, value by value); whatever it does not recognise, the publisher hands to the
// schema, which decides and says why. So a NaN, an Infinity, a negative counter or a fraction
// where the contract wants an integer never reaches the bus, and no valid message is refused.
import { SCHEMA_VERSION, type StatsMessage } from "@crowsnest/shared";

/** The fields the check knows; a message with any other goes to the schema. */
const MESSAGE_KEYS = new Set([
  "v",
  "host",
  "runtime",
  "container",
  "ts",
  "interval_ms",
  "cpu_percent",
  "online_cpus",
  "cpu_limit_cores",
  "mem_used",
  "mem_limit",
  "net_rx_bytes",
  "net_tx_bytes",
  "net_rx_bytes_per_s",
  "net_tx_bytes_per_s",
  "blk_read_bytes",
  "blk_write_bytes",
  "blk_read_bytes_per_s",
  "blk_write_bytes_per_s",
  "pids",
]);

const nullOr = (value: unknown, test: (n: number) => boolean): boolean =>
  value === null || (typeof value === "number" && test(value));

/** A finite number ≥ 0 (z.number().nonnegative()). */
const nonNegative = (n: number) => Number.isFinite(n) && n >= 0;
/** A finite number > 0 (z.number().positive()). */
const positive = (n: number) => Number.isFinite(n) && n > 0;
/** A safe integer ≥ 0 (z.number().int().nonnegative()). */
const count = (n: number) => Number.isSafeInteger(n) && n >= 0;
/** A safe integer > 0 (z.number().int().positive()). */
const positiveCount = (n: number) => Number.isSafeInteger(n) && n > 0;

const string = (value: unknown, min: number, max: number): boolean =>
  typeof value === "string" && value.length >= min && value.length <= max;

/** The last timestamp found valid: the samples of one tick mostly share their millisecond. */
let lastValidTimestamp = "";

/** `2026-11-21T20:15:00.123Z` exactly: what Date#toISOString writes for years 0000–9999, a real date. */
function isMillisecondTimestamp(value: unknown): boolean {
  if (typeof value !== "string" || value.length !== 24) return false;
  if (value === lastValidTimestamp) return true;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== value) return false;
  lastValidTimestamp = value;
  return true;
}

/**
 * True when the schema would accept `message` as it is. False means "not recognised", not
 * "invalid": the caller then asks the schema.
 */
export function passesStatsContract(message: StatsMessage): boolean {
  for (const key in message) if (!MESSAGE_KEYS.has(key)) return false;
  const { container } = message;
  if (typeof container !== "object" || container === null) return false;
  for (const key in container) if (key !== "external_id" && key !== "name") return false;
  return (
    message.v === SCHEMA_VERSION &&
    string(message.host, 1, 253) &&
    (message.runtime === "docker" || message.runtime === "kubernetes") &&
    string(container.external_id, 1, 512) &&
    string(container.name, 0, 512) &&
    isMillisecondTimestamp(message.ts) &&
    nullOr(message.interval_ms, positiveCount) &&
    nullOr(message.cpu_percent, nonNegative) &&
    nullOr(message.online_cpus, positiveCount) &&
    nullOr(message.cpu_limit_cores, positive) &&
    nullOr(message.mem_used, count) &&
    nullOr(message.mem_limit, count) &&
    nullOr(message.net_rx_bytes, count) &&
    nullOr(message.net_tx_bytes, count) &&
    nullOr(message.net_rx_bytes_per_s, nonNegative) &&
    nullOr(message.net_tx_bytes_per_s, nonNegative) &&
    nullOr(message.blk_read_bytes, count) &&
    nullOr(message.blk_write_bytes, count) &&
    nullOr(message.blk_read_bytes_per_s, nonNegative) &&
    nullOr(message.blk_write_bytes_per_s, nonNegative) &&
    nullOr(message.pids, count)
  );
}
