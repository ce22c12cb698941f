// The time window and step of a history request: a named range (the design's presets) or an
// explicit from/to/step, validated so that a request can never ask for an unbounded answer.
import { z } from "@hono/zod-openapi";
import { ApiError } from "../http/api-error.ts";
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, timestampParam } from "../http/params.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const FIVE_MINUTES = 5 * MINUTE;
const DAY = 24 * HOUR;
/**
 * Stored rows one series may read for a window (issue #16): the presets read at most 1 440 (24 h
 * of minutes). It also bounds the points, a point needing at least one row.
 */
export const MAX_ROWS_PER_SERIES = 2000;
/** Raw samples are counted at one per 10 s, the collector's default interval. */
const RAW_ROW_MS = 10 * SECOND;
/** The origin of the step grid; the same as the series query's date_bin origin. */
export const GRID_ORIGIN_MS = Date.parse("2000-01-01T00:00:00.000Z");
const MAX_SPAN_MS = 400 * DAY;

/** `range` → span and step; a step of 1 ms means every sample as it is ("raw"). */
export const RANGE_PRESETS = {
  "1h": { spanMs: HOUR, stepMs: 1, granularity: "raw" },
  "6h": { spanMs: 6 * HOUR, stepMs: MINUTE, granularity: "1m" },
  "24h": { spanMs: DAY, stepMs: 5 * MINUTE, granularity: "5m" },
  "7d": { spanMs: 7 * DAY, stepMs: HOUR, granularity: "1h" },
  "30d": { spanMs: 30 * DAY, stepMs: HOUR, granularity: "1h" },
  "90d": { spanMs: 90 * DAY, stepMs: DAY, granularity: "1d" },
  "365d": { spanMs: 365 * DAY, stepMs: DAY, granularity: "1d" },
} as const;

const UNIT_MS = { s: SECOND, m: MINUTE, h: HOUR, d: DAY } as const;

export const historyQuery = {
  range: z
    .enum(Object.keys(RANGE_PRESETS) as [keyof typeof RANGE_PRESETS, ...(keyof typeof RANGE_PRESETS)[]])
    .optional()
    .openapi({ description: "A preset window ending now; default 1h. Not combined with from/to/step." }),
  from: timestampParam.optional(),
  to: timestampParam.optional(),
  step: z
    .string()
    .regex(/^[1-9][0-9]{0,5}[smhd]$/, "must be a duration like 30s, 5m, 1h or 1d")
    .optional()
    .openapi({
      description:
        "Point spacing: steps of whole days use daily rollups, whole hours hourly ones, multiples of 5 minutes five-minute ones, other whole minutes minute ones, any other step raw samples. A window may read at most 2000 stored rows per series at its step (raw samples counted at one per 10 s): a step of whole minutes spans at most 33h20m, multiples of 5 minutes 6d22h40m, whole hours 83d8h; a longer window is a 400 naming the finest step that fits, never answered at another step. Points are whole steps from 2000-01-01T00:00:00Z (whole hours on the hour, whole days at UTC midnight): from is moved down and to up to the nearest step boundary, and the answer gives the window used.",
    }),
};

export interface HistoryWindow {
  fromMs: number;
  toMs: number;
  stepMs: number;
  granularity: string;
}

export function resolveWindow(
  query: {
    range?: keyof typeof RANGE_PRESETS | undefined;
    from?: string | undefined;
    to?: string | undefined;
    step?: string | undefined;
  },
  nowMs: number,
): HistoryWindow {
  const explicit = query.from !== undefined || query.to !== undefined || query.step !== undefined;
  if (explicit && query.range !== undefined) {
    throw new ApiError("invalid_request", "range: give either range or from/to/step, not both");
  }
  if (!explicit) {
    const preset = RANGE_PRESETS[query.range ?? "1h"];
    return alignToSteps({
      fromMs: nowMs - preset.spanMs,
      toMs: nowMs,
      stepMs: preset.stepMs,
      granularity: preset.granularity,
    });
  }
  if (query.from === undefined || query.step === undefined) {
    throw new ApiError("invalid_request", "from: from and step are required together (to defaults to now)");
  }
  const fromMs = Date.parse(query.from);
  const toMs = query.to === undefined ? nowMs : Date.parse(query.to);
  if (!(toMs > fromMs)) throw new ApiError("invalid_request", "to: must be later than from");
  if (toMs - fromMs > MAX_SPAN_MS)
    throw new ApiError("invalid_request", "from: the window may span at most 400 days");
  const unit = query.step.slice(-1) as keyof typeof UNIT_MS;
  const stepMs = Number(query.step.slice(0, -1)) * UNIT_MS[unit];
  const window = alignToSteps({ fromMs, toMs, stepMs, granularity: query.step });
  checkRowsPerSeries(window, query.step);
  return window;
}

/** The tier a step is served from (series-query.ts): the coarsest rollup whose buckets divide it. */
function tierOfStep(stepMs: number): {
  tier: "daily" | "hourly" | "five-minute" | "minute" | "raw";
  rowMs: number;
} {
  if (stepMs % DAY === 0) return { tier: "daily", rowMs: DAY };
  if (stepMs % HOUR === 0) return { tier: "hourly", rowMs: HOUR };
  if (stepMs % FIVE_MINUTES === 0) return { tier: "five-minute", rowMs: FIVE_MINUTES };
  if (stepMs % MINUTE === 0) return { tier: "minute", rowMs: MINUTE };
  return { tier: "raw", rowMs: RAW_ROW_MS };
}

/** Stored rows (or points, if more) one series reads for a window at a step. */
export function rowsPerSeries(spanMs: number, stepMs: number): number {
  return Math.ceil(spanMs / Math.min(stepMs, tierOfStep(stepMs).rowMs));
}

/**
 * An explicit step is answered as asked or refused, never changed behind the caller's back (an
 * export at 5-minute spacing that came back hourly would be wrong without anyone noticing): a
 * window that would read more than MAX_ROWS_PER_SERIES rows is a 400 saying the limit, the
 * finest step that fits the window and the longest window that fits the step. Only multiples of
 * 5 minutes, whole hours or days reduce what a long window reads: any other step is served from
 * minute rows (or raw samples), however coarse.
 */
function checkRowsPerSeries(window: HistoryWindow, step: string): void {
  const spanMs = window.toMs - window.fromMs;
  const rows = rowsPerSeries(spanMs, window.stepMs);
  if (rows <= MAX_ROWS_PER_SERIES) return;
  const { tier, rowMs } = tierOfStep(window.stepMs);
  const reads = tier === "raw" ? "raw samples (counted at one per 10 s)" : `${tier} rollup rows`;
  const fits = (unitMs: number) => spanMs / unitMs <= MAX_ROWS_PER_SERIES;
  const finest =
    tier === "raw" && fits(RAW_ROW_MS)
      ? `a step of at least ${Math.ceil(spanMs / MAX_ROWS_PER_SERIES / SECOND)}s`
      : fits(MINUTE) && rowMs < MINUTE
        ? "a step of whole minutes (1m, 5m, …)"
        : fits(FIVE_MINUTES) && rowMs < FIVE_MINUTES
          ? "a step of a multiple of 5 minutes (5m, 10m, 15m, …)"
          : fits(HOUR) && rowMs < HOUR
            ? "a step of whole hours (1h, 6h, …)"
            : "a step of whole days (1d, 7d, …)";
  const longest = MAX_ROWS_PER_SERIES * Math.min(window.stepMs, rowMs);
  throw new ApiError(
    "invalid_request",
    `step: ${step} over this window reads about ${rows} ${reads} per series, more than the limit of ` +
      `${MAX_ROWS_PER_SERIES}; use ${finest} for this window, or windows of at most ${formatSpan(longest)} at ${step}`,
  );
}

/** A duration as days, hours, minutes and seconds, e.g. 1d9h20m. */
export function formatSpan(ms: number): string {
  const parts: string[] = [];
  let rest = Math.floor(ms / SECOND);
  for (const [unit, seconds] of [
    ["d", DAY / SECOND],
    ["h", HOUR / SECOND],
    ["m", MINUTE / SECOND],
    ["s", 1],
  ] as const) {
    if (rest >= seconds) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
  }
  return parts.join("") || "0s";
}

/**
 * Points are whole steps on one grid: multiples of the step from 2000-01-01T00:00:00Z, the
 * origin the query's date_bin uses (so whole hours start on the hour and whole days at UTC
 * midnight). A window is widened to it — `from` down, `to` up — and the answer states the
 * widened window. Every point then covers its whole step, whichever table serves it: hourly and
 * daily rollups hold whole buckets, and a window cutting one would drop it (or count samples
 * outside it). The window stays within the times the api accepts.
 */
export function alignToSteps(window: HistoryWindow): HistoryWindow {
  const { stepMs } = window;
  const down = (ms: number) => GRID_ORIGIN_MS + Math.floor((ms - GRID_ORIGIN_MS) / stepMs) * stepMs;
  const up = (ms: number) => GRID_ORIGIN_MS + Math.ceil((ms - GRID_ORIGIN_MS) / stepMs) * stepMs;
  return {
    ...window,
    fromMs: Math.max(MIN_TIMESTAMP_MS, down(window.fromMs)),
    toMs: Math.min(MAX_TIMESTAMP_MS, up(window.toMs)),
  };
}
