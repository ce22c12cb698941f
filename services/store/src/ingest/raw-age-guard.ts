// Refuses raw samples (container or host) older than the raw retention. Such a sample would
// land in a day partition the retention has dropped or is about to drop: stored, it would vanish
// at the next retention run (every 10 min) without anyone being told, and no rollup would ever
// count it (the hourly and daily buckets of that day are computed and closed). Dead-lettered as
// `too_old` instead, it stays visible on the bus with its bytes, counted and logged.
import type { DeadletterReason } from "@crowsnest/shared";
import { dayStart, oldestKeptRawDay } from "../db/partitions.ts";

export interface Refusal {
  reason: DeadletterReason;
  detail: string;
}

export interface RawAgeGuardOptions {
  rawRetentionDays: number;
  now?: () => number;
}

/** A `refuse` check for BatchConsumer: a refusal for samples from days the retention no longer keeps. */
export function rawAgeGuard(options: RawAgeGuardOptions): (sample: { ts: string }) => Refusal | undefined {
  const now = options.now ?? Date.now;
  let cutoffDay = Number.NaN;
  let cutoff = "";
  return (sample) => {
    const day = oldestKeptRawDay(now(), options.rawRetentionDays);
    if (day !== cutoffDay) {
      cutoffDay = day;
      cutoff = dayStart(day).toISOString();
    }
    // Contract timestamps are all `YYYY-MM-DDTHH:MM:SS.mmmZ`, so text order is time order
    // (no parsing per sample on the ingest path).
    if (sample.ts >= cutoff) return undefined;
    return {
      reason: "too_old",
      detail: `ts ${sample.ts} is older than the raw retention of ${options.rawRetentionDays} d (oldest kept: ${cutoff})`,
    };
  };
}
