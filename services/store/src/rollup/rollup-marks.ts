// Late samples: a sample written into a bucket that is closed (or closes within minutes) bumps
// that bucket's generation, after the sample committed and before it is acknowledged (so a
// crash in between redelivers it and the bump happens then), so the rollup job computes the
// bucket again. Whether the job ran before or after the commit, the bump comes after it.
// Samples of open buckets cost nothing here. The margin covers a write that starts just before
// a bucket closes and commits just after the job computed it.
import type { Queryable } from "../db/partitions.ts";
import type { RollupSubject } from "./rollup-spec.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Checked on the store's clock, generously; Postgres' clock decides with CLOSING_MARGIN. */
const PREFILTER_MARGIN_MS = 6 * 60_000;

export function closingBuckets(
  subject: RollupSubject,
  timestamps: Iterable<string>,
  nowMs: number,
): { series: string[]; buckets: string[] } {
  const all = [...timestamps];
  // Usually every sample is in the open hour: RFC 3339 UTC strings sort by time, so one parse tells.
  let oldest: string | undefined;
  for (const ts of all) if (oldest === undefined || ts < oldest) oldest = ts;
  const empty = { series: [], buckets: [] };
  if (oldest === undefined) return empty;
  const oldestHour = Math.floor(Date.parse(oldest) / HOUR_MS) * HOUR_MS;
  if (oldestHour + HOUR_MS > nowMs + PREFILTER_MARGIN_MS) return empty;
  const keys = new Set<string>();
  // Every sample of one UTC hour marks the same buckets, so one is parsed per hour (the hour is
  // the first 13 characters of an RFC 3339 UTC timestamp).
  const hoursSeen = new Set<string>();
  for (const ts of all) {
    const hourPrefix = ts.slice(0, 13);
    if (hoursSeen.has(hourPrefix)) continue;
    hoursSeen.add(hourPrefix);
    const ms = Date.parse(ts);
    const hour = Math.floor(ms / HOUR_MS) * HOUR_MS;
    if (hour + HOUR_MS <= nowMs + PREFILTER_MARGIN_MS) keys.add(`${subject}_hourly ${hour}`);
    const day = Math.floor(ms / DAY_MS) * DAY_MS;
    if (day + DAY_MS <= nowMs + PREFILTER_MARGIN_MS) keys.add(`${subject}_daily ${day}`);
  }
  // Sorted, so concurrent writers lock rollup_buckets rows in the same order.
  const sorted = [...keys].sort();
  return {
    series: sorted.map((key) => key.split(" ")[0] ?? ""),
    buckets: sorted.map((key) => new Date(Number(key.split(" ")[1])).toISOString()),
  };
}

export async function markLateBuckets(
  db: Queryable,
  subject: RollupSubject,
  timestamps: Iterable<string>,
  nowMs: number = Date.now(),
): Promise<void> {
  const { series, buckets } = closingBuckets(subject, timestamps, nowMs);
  if (series.length === 0) return;
  await db.query(
    `INSERT INTO rollup_buckets (series, bucket)
     SELECT s, b FROM unnest($1::text[], $2::timestamptz[]) AS u(s, b)
     WHERE b + CASE WHEN s LIKE '%_hourly' THEN interval '1 hour' ELSE interval '24 hours' END
       <= now() + interval '5 minutes'
     ON CONFLICT (series, bucket) DO UPDATE SET generation = rollup_buckets.generation + 1`,
    [series, buckets],
  );
}
