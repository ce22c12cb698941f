// A real pino logger whose lines land in an array, so tests assert what an operator would read.
import type { Logger } from "@crowsnest/shared";
import { pino } from "pino";

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: "debug", formatters: { level: (label) => ({ level: label }) } },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

/** The lines at `level` whose message contains `text`. */
export function linesWith(lines: readonly LogLine[], level: string, text: string): LogLine[] {
  return lines.filter((line) => line.level === level && line.msg.includes(text));
}
