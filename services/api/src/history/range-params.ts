// The time window and step of a history request: a named range (the design's presets) or an
// explicit from/to/step, validated so that a request can never ask for an unbounded answer.
import { z } from "@hono/zod-openapi";
import { ApiError } from "../http/api-error.ts";
import { MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, timestampParam } from "../http/params.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAX_POINTS = 5000;
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
        "Point spacing: steps of whole hours use hourly rollups, whole days daily ones. Points are whole steps from 2000-01-01T00:00:00Z (whole hours on the hour, whole days at UTC midnight): from is moved down and to up to the nearest step boundary, and the answer gives the window used.",
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
  if ((toMs - fromMs) / stepMs > MAX_POINTS) {
    throw new ApiError(
      "invalid_request",
      `step: at most ${MAX_POINTS} points per request; use a larger step`,
    );
  }
  return alignToSteps({ fromMs, toMs, stepMs, granularity: query.step });
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
