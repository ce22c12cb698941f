// History and series as CSV (RFC 4180, CRLF lines), for export: a header, then one line per
// point — ts, samples, and each value's avg (and max where it has one); an empty field where a
// step had no value. Series add the container's or host's id and name (and a container's host)
// in front, one line per series and step with samples, series after series.
import { z } from "@hono/zod-openapi";
import { AGGREGATES, type Aggregate } from "./minute-points.ts";
import { allValues, type SeriesPoint, type SeriesSpec } from "./series-query.ts";

export const formatParam = z.enum(["json", "csv"]).optional().openapi({
  description:
    "json (default), or csv for export: a header, then one line per point (on the series routes per series and point with samples), a column per avg and max.",
});

export const CSV_CONTENT_TYPE = "text/csv; charset=utf-8";

/** Each value's columns of those asked for: `_avg`, and `_max` where it has a maximum. */
function valueColumns(spec: SeriesSpec, values: readonly string[], aggregates: readonly Aggregate[]) {
  return values.flatMap((value) => [
    ...(aggregates.includes("avg") ? [{ value, aggregate: "avg" as const }] : []),
    ...(aggregates.includes("max") && spec.gauges.includes(value)
      ? [{ value, aggregate: "max" as const }]
      : []),
  ]);
}

function valueHeader(
  spec: SeriesSpec,
  values: readonly string[],
  aggregates: readonly Aggregate[] = AGGREGATES,
): string[] {
  return valueColumns(spec, values, aggregates).map(({ value, aggregate }) => `${value}_${aggregate}`);
}

const number = (value: number | null | undefined) =>
  value === null || value === undefined ? "" : String(value);

/** A text field quoted when it holds a comma, a quote or a line break (RFC 4180). */
function text(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

const document = (lines: readonly string[]) => `${lines.join("\r\n")}\r\n`;

export function historyCsv(spec: SeriesSpec, points: readonly SeriesPoint[]): string {
  const values = allValues(spec);
  const lines = [["ts", "samples", ...valueHeader(spec, values)].join(",")];
  for (const point of points) {
    const fields = [point.ts, String(point.samples)];
    for (const value of values) {
      const cell = point[value];
      const pair = typeof cell === "object" ? cell : { avg: null, max: null };
      fields.push(number(pair.avg));
      if (spec.gauges.includes(value)) fields.push(number(pair.max));
    }
    lines.push(fields.join(","));
  }
  return document(lines);
}

/** One series of a series answer (series-routes.ts): columns aligned with the answer's `ts`. */
export interface SeriesColumns {
  id: number;
  name: string;
  host?: string;
  samples: readonly number[];
  values: Record<string, { avg?: readonly (number | null)[]; max?: readonly (number | null)[] }>;
}

/** `answer` holds the sample counts; `aggregates` says which columns to print (default all). */
export function seriesCsv(
  spec: SeriesSpec,
  answer: { metrics: readonly string[]; ts: readonly string[]; series: readonly SeriesColumns[] },
  withHost: boolean,
  aggregates: readonly Aggregate[] = AGGREGATES,
): string {
  const subject = withHost ? ["id", "name", "host"] : ["id", "name"];
  const withSamples = aggregates.includes("samples");
  const columns = valueColumns(spec, answer.metrics, aggregates);
  const lines = [
    [
      ...subject,
      "ts",
      ...(withSamples ? ["samples"] : []),
      ...valueHeader(spec, answer.metrics, aggregates),
    ].join(","),
  ];
  for (const series of answer.series) {
    const front = withHost
      ? [String(series.id), text(series.name), text(series.host ?? "")]
      : [String(series.id), text(series.name)];
    answer.ts.forEach((ts, step) => {
      const samples = series.samples[step] ?? 0;
      if (samples === 0) return;
      const fields = [...front, ts, ...(withSamples ? [String(samples)] : [])];
      for (const { value, aggregate } of columns)
        fields.push(number(series.values[value]?.[aggregate]?.[step]));
      lines.push(fields.join(","));
    });
  }
  return document(lines);
}
