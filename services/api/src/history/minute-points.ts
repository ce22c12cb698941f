// 1-minute series (sparklines) from the minute tier as far as the store has computed it, and from
// raw samples for the rest, with the api keeping the closed minutes it already read.
//
// Why: 500 sparklines of an hour read 30 000 minute rows and the last three minutes of raw
// samples on every request, though 59 of their 60 minutes are the same rows as a request before
// read. Here the minute tier is trusted exactly for the minutes rollup_buckets marks as computed
// at their current generation (services/store/src/rollup/rollup-job.ts writes those marks in the
// transaction that writes the rows), so only the minutes not computed yet — the current one and
// usually the one just closed — come from raw samples; and the points of computed minutes are
// kept in memory, keyed by minute and by the generation they were computed at, so a request reads
// from Postgres only what it has not seen: the marks of its window (one index range of 60 rows),
// the raw minutes, and the minute rows of a minute computed since (or of containers not asked
// before).
//
// Correct under late samples: a sample stored into a closed minute bumps the minute's generation
// (services/store/src/rollup/rollup-marks.ts), so from the next request on the minute is not
// computed at its generation and is read from raw samples, late sample included; once a store
// instance computed it again, its computed generation differs from the kept one, and its rows are
// read anew. Any number of store instances share those marks. The marks are read before the rows,
// so kept rows are never older than the generation they are kept under (the job writes rows and
// marks in one transaction): at worst they are newer, and are read again the next time.
//
// What is kept is the points' JSON texts (the numbers as Postgres prints the doubles, as the
// uncached answer has them, or rounded as a request's `digits` asks), per minute, value column
// (and digits) and container: an answer is then joined
// from texts, without printing a number. Bounded: minutes older than CACHE_MINUTES before now are
// dropped, and past MAX_CACHED_TEXTS texts the oldest minutes go first.
import { contiguousRuns } from "@crowsnest/shared/util/contiguous-runs";
import { type Kysely, type RawBuilder, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";
import type { PreparedStatements } from "../db/prepared-statements.ts";
import type { AnswerPiece } from "../http/byte-answer.ts";
import {
  answerValueSql,
  bucketPointsSql,
  type SeriesSource,
  type SeriesSpec,
  seriesSql,
} from "./series-query.ts";

const MINUTE_MS = 60_000;
/** How far back windows are served this way (and minutes kept): 1 h sparklines and 3 h charts. */
export const CACHE_MINUTES = 180;
/**
 * Texts kept at most, about 50 bytes each with their map entries: 1000 containers' 3 h of one
 * value's avg and max and the sample counts are 540 000.
 */
export const MAX_CACHED_TEXTS = 600_000;
/** A container without a row in a computed minute: no samples. */
const NO_POINT = "";
/** Joined texts kept at most (keys × columns; each about 60 texts' worth, as UTF-8 bytes). */
const MAX_JOINED = 20_000;

interface KeptMinute {
  ms: number;
  /** The generation the minute was computed at when its rows were read. */
  generation: string;
  /** Value column (`samples`, `cpu_percent_avg`, …) → key → the point's JSON text, or NO_POINT. */
  columns: Map<string, Map<number, string>>;
}

/** The points of the computed minutes read so far, of one tier's series (containers or hosts). */
export class MinutePointCache {
  readonly #minutes = new Map<number, KeptMinute>();
  #texts = 0;
  /**
   * Key → column → the texts of a window's leading computed minutes, joined, and what they were
   * joined from (the window's start and those minutes' generations): an answer of 500 sparklines
   * is 90 000 texts, and joining them anew each time cost as much as the rest of the request.
   * Kept as bytes: the answer is written into one Buffer (http/byte-answer.ts), copying them once.
   */
  readonly #joined = new Map<number, Map<string, { signature: string; bytes: Uint8Array }>>();
  #joinedCount = 0;
  /** The statement reading rows not kept yet, while one runs: requests wait for it, not repeat it. */
  #filling: Promise<void> | undefined;

  /** Texts held (tests and the bound). */
  get size(): number {
    return this.#texts;
  }

  /** The minute's kept points, if they were read at this generation; older ones are dropped. */
  minute(ms: number, generation: string): KeptMinute {
    const kept = this.#minutes.get(ms);
    if (kept && kept.generation === generation) return kept;
    if (kept) this.#drop(ms, kept);
    const fresh: KeptMinute = { ms, generation, columns: new Map() };
    this.#minutes.set(ms, fresh);
    return fresh;
  }

  put(kept: KeptMinute, column: string, key: number, text: string): void {
    let byKey = kept.columns.get(column);
    if (!byKey) {
      byKey = new Map();
      kept.columns.set(column, byKey);
    }
    // A minute dropped meanwhile (trimmed, or computed again) is no longer counted.
    if (!byKey.has(key) && this.#minutes.get(kept.ms) === kept) this.#texts++;
    byKey.set(key, text);
  }

  /** The joined texts of `key`'s column if they were joined under this signature. */
  joined(key: number, column: string, signature: string): Uint8Array | undefined {
    const entry = this.#joined.get(key)?.get(column);
    return entry?.signature === signature ? entry.bytes : undefined;
  }

  join(key: number, column: string, signature: string, bytes: Uint8Array): void {
    let byColumn = this.#joined.get(key);
    if (!byColumn) {
      // Bounded: past the bound everything joined is dropped and joined again as asked.
      if (this.#joinedCount >= MAX_JOINED) {
        this.#joined.clear();
        this.#joinedCount = 0;
      }
      byColumn = new Map();
      this.#joined.set(key, byColumn);
    }
    if (!byColumn.has(column)) this.#joinedCount++;
    byColumn.set(column, { signature, bytes });
  }

  /**
   * Runs `read` (a statement reading rows not kept yet, and keeping them) after any such read in
   * flight, one after another: concurrent requests that miss the same rows (a cold start, a
   * minute just computed) then read them once, the later ones finding them kept when their turn
   * comes (`read` checks again what is missing).
   */
  async fill(read: () => Promise<void>): Promise<void> {
    const done = (this.#filling ?? Promise.resolve()).then(read);
    const guarded = done.catch(() => undefined);
    this.#filling = guarded;
    try {
      await done;
    } finally {
      if (this.#filling === guarded) this.#filling = undefined;
    }
  }

  /** Resolves once no read of rows is in flight. */
  async settled(): Promise<void> {
    while (this.#filling) await this.#filling;
  }

  /** Drops minutes older than `oldestMs`, then the oldest until at most `maxTexts` remain. */
  trim(oldestMs: number, maxTexts: number): void {
    const byAge = [...this.#minutes.keys()].sort((a, b) => a - b);
    for (const ms of byAge) {
      if (ms >= oldestMs && this.#texts <= maxTexts) break;
      const kept = this.#minutes.get(ms);
      if (kept) this.#drop(ms, kept);
    }
  }

  #drop(ms: number, kept: KeptMinute): void {
    for (const byKey of kept.columns.values()) this.#texts -= byKey.size;
    this.#minutes.delete(ms);
  }
}

/** Whether a series request is served by minutePoints: 1-minute steps within the kept minutes. */
export function servesFromMinutes(window: { fromMs: number; stepMs: number }, nowMs: number): boolean {
  return window.stepMs === MINUTE_MS && window.fromMs >= nowMs - CACHE_MINUTES * MINUTE_MS;
}

/** What a series answer holds per step: the sample count, and each value's average and maximum. */
export const AGGREGATES = ["avg", "max", "samples"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/**
 * The value columns of an answer: `samples`, then each value's `_avg` (and `_max` for gauges),
 * of those asked for.
 */
export function answerColumns(
  spec: SeriesSpec,
  values: readonly string[],
  aggregates: readonly Aggregate[] = AGGREGATES,
): string[] {
  return [
    ...(aggregates.includes("samples") ? ["samples"] : []),
    ...values.flatMap((value) => [
      ...(aggregates.includes("avg") ? [`${value}_avg`] : []),
      ...(aggregates.includes("max") && spec.gauges.includes(value) ? [`${value}_max`] : []),
    ]),
  ];
}

/**
 * Columns of the points as JSON texts (the values to `digits` significant digits if given), with
 * the key and the minute (ms since the epoch) as text.
 */
function asTexts(statement: RawBuilder<unknown>, columns: readonly string[], digits: number | undefined) {
  const texts = columns
    .map((column) =>
      column === "samples"
        ? "samples::text AS samples"
        : `coalesce((${answerValueSql(column, digits)})::text, 'null') AS ${column}`,
    )
    .join(", ");
  return sql<Record<string, string>>`
    SELECT k::text AS k, (extract(epoch FROM t) * 1000)::bigint::text AS t, ${sql.raw(texts)}
    FROM (${statement}) AS points`;
}

/** The minutes of [fromMs, toMs) that the store computed at their current generation. */
export function minuteMarksSql(spec: SeriesSpec, fromMs: number, toMs: number) {
  return sql<{ ms: string; generation: string }>`
    SELECT (extract(epoch FROM bucket) * 1000)::bigint::text AS ms, computed_generation::text AS generation
    FROM rollup_buckets
    WHERE series = ${spec.minuteSeries} AND bucket >= ${new Date(fromMs).toISOString()}::timestamptz
      AND bucket < ${new Date(toMs).toISOString()}::timestamptz AND computed_generation = generation`;
}

/** The 1-minute points of `minutes` (starts, ascending) from raw samples, as history aggregates them. */
export function rawMinutesSql(
  spec: SeriesSpec,
  keys: readonly number[],
  values: readonly string[],
  minutes: readonly number[],
  nowMs: number,
  columns: readonly string[] = answerColumns(spec, values),
  digits?: number,
) {
  const statements = contiguousRuns(minutes, MINUTE_MS).flatMap((run) => {
    const statement = seriesSql(
      spec,
      keys,
      { fromMs: run.fromMs, toMs: run.toMs, stepMs: MINUTE_MS, nowMs },
      { sources: ["raw"], values, unordered: true },
    );
    return statement ? [asTexts(statement.query, columns, digits)] : [];
  });
  return statements.length > 0 ? sql.join(statements, sql` UNION ALL `) : undefined;
}

export interface MinutePoints {
  sources: SeriesSource[];
  /**
   * Per column, per key (in the order asked), its JSON array as pieces to write one after another:
   * one text per step, `0` or `null` without samples.
   */
  columns: Map<string, AnswerPiece[][]>;
}

/** What a 1-minute series answer is read as it is asked (the kept points aside). */
export interface SeriesAsked {
  spec: SeriesSpec;
  values: readonly string[];
  /** The answer's columns, of answerColumns. */
  columns: readonly string[];
  window: { fromMs: number; toMs: number };
  nowMs: number;
  /** Significant digits of the values, if fewer than a double's. */
  digits: number | undefined;
}

/** A window's minutes the store computed (start → generation), and the others' points from raw samples. */
export interface RecentMinutes {
  computed: Map<number, string>;
  rawMinutes: number[];
  rawRows: Record<string, string>[];
}

/**
 * The marks of the window's computed minutes, then the points of the other minutes (the current
 * one, usually the one just closed) from raw samples, aggregated by minute as history aggregates
 * them. Nothing here depends on the cache or on which of `keys` exist, so the series route runs
 * it while it looks the ids up: one at a time, a sparkline request then waits for the longer
 * of the two, not for both.
 */
export async function readRecentMinutes(
  db: Kysely<ApiDatabase>,
  prepared: PreparedStatements,
  keys: readonly number[],
  asked: SeriesAsked,
): Promise<RecentMinutes> {
  const { spec, window } = asked;
  const marks = await prepared.query(minuteMarksSql(spec, window.fromMs, window.toMs).compile(db));
  const computed = new Map(marks.map((mark) => [Number(mark.ms), mark.generation]));
  const rawMinutes: number[] = [];
  for (let ms = window.fromMs; ms < window.toMs; ms += MINUTE_MS) if (!computed.has(ms)) rawMinutes.push(ms);
  const statement =
    rawMinutes.length > 0
      ? rawMinutesSql(spec, keys, asked.values, rawMinutes, asked.nowMs, asked.columns, asked.digits)
      : undefined;
  const rawRows = statement ? await prepared.query(statement.compile(db)) : [];
  return { computed, rawMinutes, rawRows };
}

/**
 * The 1-minute points of `keys` over the window, one text per step and column. The minute tier
 * serves the minutes rollup_buckets marks as computed at their current generation (`recent`,
 * read before), from the cache where it holds them; raw samples serve the others.
 */
export async function minutePoints(
  db: Kysely<ApiDatabase>,
  prepared: PreparedStatements,
  cache: MinutePointCache,
  keys: readonly number[],
  asked: SeriesAsked,
  recent: RecentMinutes,
): Promise<MinutePoints> {
  const { spec, values, columns, window, nowMs, digits } = asked;
  const { computed, rawMinutes } = recent;
  const steps = Math.round((window.toMs - window.fromMs) / MINUTE_MS);
  // Rows another request is reading now are kept once it is done: wait rather than read them too.
  await cache.settled();
  cache.trim(nowMs - CACHE_MINUTES * MINUTE_MS, MAX_CACHED_TEXTS);

  const kept: (KeptMinute | undefined)[] = [];
  for (let n = 0; n < steps; n++) {
    const ms = window.fromMs + n * MINUTE_MS;
    const generation = computed.get(ms);
    kept.push(generation === undefined ? undefined : cache.minute(ms, generation));
  }
  // The leading steps whose minutes are all computed (all but the last one or two, usually):
  // each series' texts there are joined once per window start and generations, and kept.
  let prefix = 0;
  while (prefix < steps && kept[prefix]) prefix++;
  const signature = `${window.fromMs}:${kept
    .slice(0, prefix)
    .map((minute) => minute?.generation)
    .join(",")}`;
  // cells[c][i]: column c of the i-th key, a text per step (its JSON array's elements); joined[c][i]
  // the kept join of its leading steps, if any. Indexed arrays, not maps: 500 sparklines place
  // 90 000 texts.
  const cells = columns.map((column) =>
    keys.map(() => new Array<string>(steps).fill(column === "samples" ? "0" : "null")),
  );
  // Texts rounded to fewer digits are other texts: kept apart, under the column and the digits.
  const keptColumns = columns.map((column) =>
    digits === undefined || column === "samples" ? column : `${column}/${digits}`,
  );
  const joined = keptColumns.map((column) => keys.map((key) => cache.joined(key, column, signature)));
  const index = new Map(keys.map((key, i) => [key, i]));
  // The kept points of computed minutes; what is not kept (a minute computed since, a container
  // not asked before) is read in one statement and kept.
  const fromKept = () => {
    const missing = new Set<number>();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    keptColumns.forEach((column, c) => {
      const byIndex = cells[c] ?? [];
      const joinedByIndex = joined[c] ?? [];
      for (let n = 0; n < steps; n++) {
        const minute = kept[n];
        if (!minute) continue;
        const byKey = minute.columns.get(column);
        for (let i = 0; i < keys.length; i++) {
          if (n < prefix && joinedByIndex[i] !== undefined) continue;
          const key = keys[i] ?? 0;
          const text = byKey?.get(key);
          if (text === undefined) {
            missing.add(key);
            first = Math.min(first, n);
            last = Math.max(last, n);
          } else if (text !== NO_POINT) {
            const texts = byIndex[i];
            if (texts) texts[n] = text;
          }
        }
      }
    });
    return { missing: [...missing], first, last };
  };
  const gauges = spec.gauges.filter((value) => values.includes(value));
  const averagesOnly = spec.averagesOnly.filter((value) => values.includes(value));
  if (fromKept().missing.length > 0) {
    await cache.fill(async () => {
      // What is still missing once the reads before this one kept their rows.
      const notKept = fromKept();
      if (notKept.missing.length === 0) return;
      const firstMs = window.fromMs + notKept.first * MINUTE_MS;
      const rows = await prepared.query(
        asTexts(
          bucketPointsSql(
            spec,
            { source: "minute", from: firstMs, to: window.fromMs + (notKept.last + 1) * MINUTE_MS },
            notKept.missing,
            gauges,
            averagesOnly,
          ),
          columns,
          digits,
        ).compile(db),
      );
      const found = new Map<string, Record<string, string>>();
      for (const row of rows) found.set(`${row.k} ${row.t}`, row);
      for (let n = notKept.first; n <= notKept.last; n++) {
        const minute = kept[n];
        if (!minute) continue;
        const ms = window.fromMs + n * MINUTE_MS;
        for (const key of notKept.missing) {
          const row = found.get(`${key} ${ms}`);
          columns.forEach((column, c) => {
            const keptColumn = keptColumns[c] ?? column;
            if (!minute.columns.get(keptColumn)?.has(key))
              cache.put(minute, keptColumn, key, row?.[column] ?? NO_POINT);
          });
        }
      }
    });
    fromKept();
    cache.trim(nowMs - CACHE_MINUTES * MINUTE_MS, MAX_CACHED_TEXTS);
  }
  // Join what was not joined yet, and keep it.
  keptColumns.forEach((column, c) => {
    keys.forEach((key, i) => {
      const byIndex = joined[c];
      if (prefix === 0 || !byIndex || byIndex[i] !== undefined) return;
      const bytes = Buffer.from((cells[c]?.[i] ?? []).slice(0, prefix).join(","));
      byIndex[i] = bytes;
      cache.join(key, column, signature, bytes);
    });
  });

  // Minutes not computed (yet, or again after a late sample): their points from raw samples.
  // Rows of ids not among `keys` (ids asked for that do not exist) have no place and are skipped.
  if (rawMinutes.length > 0) {
    for (const row of recent.rawRows) {
      const n = Math.round((Number(row.t) - window.fromMs) / MINUTE_MS);
      const i = index.get(Number(row.k));
      if (i === undefined || n < 0 || n >= steps) continue;
      columns.forEach((column, c) => {
        const texts = cells[c]?.[i];
        const text = row[column];
        if (texts && text !== undefined) texts[n] = text;
      });
    }
  }

  const sources: SeriesSource[] = [];
  if (kept.some((minute) => minute !== undefined)) sources.push("minute");
  if (rawMinutes.length > 0) sources.push("raw");
  return {
    sources,
    columns: new Map(
      columns.map((column, c) => [
        column,
        (cells[c] ?? []).map((texts, i): AnswerPiece[] => {
          const head = joined[c]?.[i];
          if (head === undefined) return [`[${texts.join(",")}]`];
          if (prefix === steps) return ["[", head, "]"];
          return ["[", head, `,${texts.slice(prefix).join(",")}]`];
        }),
      ]),
    ),
  };
}
