// History points as CSV (RFC 4180): a header, then one line per point — ts, samples, and each
// value's avg (and max where it has one); an empty field where a step had no value.
import { allValues, type SeriesPoint, type SeriesSpec } from "./series-query.ts";

export function historyCsv(spec: SeriesSpec, points: readonly SeriesPoint[]): string {
  const values = allValues(spec);
  const header = ["ts", "samples"];
  for (const value of values) {
    header.push(`${value}_avg`);
    if (spec.gauges.includes(value)) header.push(`${value}_max`);
  }
  const lines = [header.join(",")];
  for (const point of points) {
    const fields = [point.ts, String(point.samples)];
    for (const value of values) {
      const cell = point[value];
      const pair = typeof cell === "object" ? cell : { avg: null, max: null };
      fields.push(pair.avg === null ? "" : String(pair.avg));
      if (spec.gauges.includes(value))
        fields.push(pair.max === null || pair.max === undefined ? "" : String(pair.max));
    }
    lines.push(fields.join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}
