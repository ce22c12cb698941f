// Late samples: a sample written into a bucket that is closed (or, for hours and days, closes
// within minutes) bumps that bucket's generation, after the sample committed and before it is
// acknowledged (so a crash in between redelivers it and the bump happens then), so the rollup
// job computes the bucket again. Whether the job ran before or after the commit, the bump comes
// after it. Samples of open buckets cost nothing here.
//
// Hours and days: the job decides on the store's clock, so the margin covers a write that starts
// just before a bucket closes and commits just after the job computed it, and clock skew.
// Minutes: the job decides on Postgres' clock, a settle time after the minute's end
// (MINUTE_SETTLE_MS), and so does the statement below, without margin: a sample committed after
// the job read the minute is marked, because the minute had closed on that clock by then. The
// store's clock only prefilters, and may lag Postgres' by up to the settle time.
import type { Queryable } from "../db/partitions.ts";
import type { RollupSubject } from "./rollup-spec.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Hours and days are checked on the store's clock generously; Postgres' clock decides (5-minute margin). */
const PREFILTER_MARGIN_MS = 6 * 60_000;

export function closingBuckets(
  subject: RollupSubject,
  timestamps: Iterable<string>,
  nowMs: number,
): { series: string[]; buckets: string[] } {
  const all = [...timestamps];
  // Usually every sample is in the open minute: RFC 3339 UTC strings sort by time, so one parse tells.
  let oldest: string | undefined;
  for (const ts of all) if (oldest === undefined || ts < oldest) oldest = ts;
  const empty = { series: [], buckets: [] };
  if (oldest === undefined) return empty;
  const oldestMs = Date.parse(oldest);
  const oldestHour = Math.floor(oldestMs / HOUR_MS) * HOUR_MS;
  const oldestMinute = Math.floor(oldestMs / MINUTE_MS) * MINUTE_MS;
  if (oldestHour + HOUR_MS > nowMs + PREFILTER_MARGIN_MS && oldestMinute + MINUTE_MS > nowMs) return empty;
  const keys = new Set<string>();
  // Every sample of one UTC minute marks the same buckets, so one is parsed per minute (the
  // minute is the first 16 characters of an RFC 3339 UTC timestamp).
  const minutesSeen = new Set<string>();
  for (const ts of all) {
    const minutePrefix = ts.slice(0, 16);
    if (minutesSeen.has(minutePrefix)) continue;
    minutesSeen.add(minutePrefix);
    const ms = Date.parse(ts);
    const minute = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
    if (minute + MINUTE_MS <= nowMs) keys.add(`${subject}_minute ${minute}`);
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
     WHERE CASE
       WHEN s LIKE '%\\_minute' THEN b + interval '1 minute' <= now()
       WHEN s LIKE '%\\_hourly' THEN b + interval '1 hour' <= now() + interval '5 minutes'
       ELSE b + interval '24 hours' <= now() + interval '5 minutes'
     END
     ON CONFLICT (series, bucket) DO UPDATE SET generation = rollup_buckets.generation + 1`,
    [series, buckets],
  );
}
