// Structured JSON logs: one line per record with ISO time, level name, service and host.
// `Logger` is what the services' code uses of a logger; pino's loggers (createLogger, for the api
// and the store) and the agents' lighter json-line-logger.ts both are one.
import { pino } from "pino";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** One level's method: fields (an Error stands for `{ err }`) and a message, or a message alone. */
export interface LogFn {
  (fields: object | null, message?: string): void;
  (message: string): void;
}

export interface Logger {
  readonly level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds `bindings` to each of its lines. */
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
}

export interface LoggerOptions {
  service: string;
  level: LogLevel;
  host?: string;
}

export function createLogger(options: LoggerOptions): pino.Logger {
  return pino({
    level: options.level,
    base: { service: options.service, ...(options.host === undefined ? {} : { host: options.host }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
