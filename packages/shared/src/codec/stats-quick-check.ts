// A hand-written check of the stats message, about ten times cheaper than the zod schema
// (`statsMessage`), for the hot paths: the collector's publishing of its own samples and the
// store's ingest. The zod schema stays the contract: this check
// only ever accepts what the schema accepts (with the same values, the schema adds no
// transforms), and whatever it refuses is given to the schema, which decides and explains. So
// it can be incomplete in what it accepts, never more permissive; `stats-quick-check.test.ts`
// compares both on valid and mutated messages.

import { TIMESTAMP_PATTERN } from "../messages/contract-values.ts";
import type { StatsMessage } from "../messages/stats-message.ts";
import { isRuntime } from "../runtime/runtimes.ts";

/** The schema's RFC 3339 pattern (millisecond precision, `Z`), so every check of `ts` agrees. */
export const STATS_TIMESTAMP_PATTERN: RegExp = TIMESTAMP_PATTERN;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value: unknown, minLength: number, maxLength: number): value is string {
  return typeof value === "string" && value.length >= minLength && value.length <= maxLength;
}

// zod's number refuses NaN and ±Infinity (JSON.parse yields Infinity for 1e400); its int() is
// a safe integer.
const isNonNegative = (value: unknown) => typeof value === "number" && Number.isFinite(value) && value >= 0;
const isPositive = (value: unknown) => typeof value === "number" && Number.isFinite(value) && value > 0;
const isNonNegativeInt = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;
const isPositiveInt = (value: unknown) => Number.isSafeInteger(value) && (value as number) > 0;
const nullOr = (value: unknown, check: (value: unknown) => boolean) => value === null || check(value);

/** True only if `statsMessage` accepts `json`; false means "ask the schema", not "invalid". */
export function isStatsMessage(json: unknown): json is StatsMessage {
  if (!isRecord(json)) return false;
  const container = json.container;
  if (!isRecord(container)) return false;
  return (
    json.v === 1 &&
    isString(json.host, 1, 253) &&
    isRuntime(json.runtime) &&
    isString(container.external_id, 1, 512) &&
    isString(container.name, 0, 512) &&
    typeof json.ts === "string" &&
    STATS_TIMESTAMP_PATTERN.test(json.ts) &&
    nullOr(json.interval_ms, isPositiveInt) &&
    nullOr(json.cpu_percent, isNonNegative) &&
    nullOr(json.online_cpus, isPositiveInt) &&
    nullOr(json.cpu_limit_cores, isPositive) &&
    nullOr(json.mem_used, isNonNegativeInt) &&
    nullOr(json.mem_limit, isNonNegativeInt) &&
    nullOr(json.net_rx_bytes, isNonNegativeInt) &&
    nullOr(json.net_tx_bytes, isNonNegativeInt) &&
    nullOr(json.net_rx_bytes_per_s, isNonNegative) &&
    nullOr(json.net_tx_bytes_per_s, isNonNegative) &&
    nullOr(json.blk_read_bytes, isNonNegativeInt) &&
    nullOr(json.blk_write_bytes, isNonNegativeInt) &&
    nullOr(json.blk_read_bytes_per_s, isNonNegative) &&
    nullOr(json.blk_write_bytes_per_s, isNonNegative) &&
    nullOr(json.pids, isNonNegativeInt) &&
    (json.source === undefined || json.source === "kubelet_summary" || json.source === "metrics_api")
  );
}
