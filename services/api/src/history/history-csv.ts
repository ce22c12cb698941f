// History and series as CSV (RFC 4180, CRLF lines), for export: a header, then one line per
// point — ts, samples, and each value's avg (and max where it has one); an empty field where a
// step had no value. Series add the container's or host's id and name (and a container's host)
// in front, one line per series and step with samples, series after series.
import { z } from "@hono/zod-openapi";
import { allValues, type SeriesPoint, type SeriesSpec } from "./series-query.ts";

export const formatParam = z.enum(["json", "csv"]).optional().openapi({
  description:
    "json (default), or csv for export: a header, then one line per point (on the series routes per series and point with samples), a column per avg and max.",
});

export const CSV_CONTENT_TYPE = "text/csv; charset=utf-8";

function valueHeader(spec: SeriesSpec, values: readonly string[]): string[] {
  return values.flatMap((value) =>
    spec.gauges.includes(value) ? [`${value}_avg`, `${value}_max`] : [`${value}_avg`],
  );
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
  values: Record<string, { avg: readonly (number | null)[]; max?: readonly (number | null)[] }>;
}

export function seriesCsv(
  spec: SeriesSpec,
  answer: { metrics: readonly string[]; ts: readonly string[]; series: readonly SeriesColumns[] },
  withHost: boolean,
): string {
  const subject = withHost ? ["id", "name", "host"] : ["id", "name"];
  const lines = [[...subject, "ts", "samples", ...valueHeader(spec, answer.metrics)].join(",")];
  for (const series of answer.series) {
    const front = withHost
      ? [String(series.id), text(series.name), text(series.host ?? "")]
      : [String(series.id), text(series.name)];
    answer.ts.forEach((ts, step) => {
      const samples = series.samples[step] ?? 0;
      if (samples === 0) return;
      const fields = [...front, ts, String(samples)];
      for (const metric of answer.metrics) {
        const columns = series.values[metric];
        fields.push(number(columns?.avg[step]));
        if (spec.gauges.includes(metric)) fields.push(number(columns?.max?.[step]));
      }
      lines.push(fields.join(","));
    });
  }
  return document(lines);
}
