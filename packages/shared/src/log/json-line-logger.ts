// The agents' logger: the same JSON lines as createLogger's pino logger (log/logger.ts), written
// by a few dozen lines instead of pino. pino, with sonic-boom, thread-stream, its serializers and
// the Node built-ins they load (worker_threads, assert), costs each agent ~1.3 MB of private
// memory that an agent, which logs a handful of lines, has no use for (docs/benchmarks.md).
//
// What it writes is pino's line for the same call, byte for byte (json-line-logger.test.ts holds
// it to pino): `{"level":"<name>","time":"<ISO>"`, the base and child bindings, the object's
// fields (`err` through pino's error serializer), then `"msg"`. Lines are written synchronously
// to stdout, so a fatal line is out before the process exits.
import { writeSync } from "node:fs";
import type { Logger, LoggerOptions, LogLevel } from "./logger.ts";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type Level = keyof typeof LEVELS;

/** Where a finished line goes; stdout by default. */
export type LineSink = (line: string) => void;

export function createJsonLineLogger(options: LoggerOptions, sink: LineSink = writeToStdout): Logger {
  const base: Record<string, unknown> = { service: options.service };
  if (options.host !== undefined) base.host = options.host;
  return new JsonLineLogger(options.level, bindingsText("", base), sink);
}

class JsonLineLogger implements Logger {
  readonly level: LogLevel;
  readonly #threshold: number;
  readonly #bindings: string;
  readonly #sink: LineSink;

  constructor(level: LogLevel, bindings: string, sink: LineSink) {
    this.level = level;
    this.#threshold = level === "silent" ? Number.POSITIVE_INFINITY : LEVELS[level];
    this.#bindings = bindings;
    this.#sink = sink;
  }

  readonly trace = this.#method("trace");
  readonly debug = this.#method("debug");
  readonly info = this.#method("info");
  readonly warn = this.#method("warn");
  readonly error = this.#method("error");
  readonly fatal = this.#method("fatal");

  child(bindings: Record<string, unknown>): Logger {
    return new JsonLineLogger(this.level, bindingsText(this.#bindings, bindings), this.#sink);
  }

  isLevelEnabled(level: string): boolean {
    return level in LEVELS && LEVELS[level as Level] >= this.#threshold;
  }

  #method(level: Level): Logger["info"] {
    const prefix = `{"level":"${level}","time":"`;
    return (first: object | string | null | undefined, message?: unknown) => {
      if (LEVELS[level] < this.#threshold) return;
      this.#sink(`${prefix}${new Date().toISOString()}"${this.#bindings}${body(first, message)}}\n`);
    };
  }
}

/** The fields and message of one call, as pino's `write` and `asJson` arrange them. */
function body(first: object | string | null | undefined, message: unknown): string {
  let fields: object;
  let msg = message;
  if (typeof first !== "object") {
    fields = {};
    msg = first === undefined ? message : first;
  } else if (first === null) {
    fields = {};
  } else if (first instanceof Error) {
    fields = { err: first };
    if (msg === undefined) msg = first.message;
  } else {
    fields = first;
    const record = first as Record<string, unknown>;
    if (msg === undefined && record.msg === undefined && isErrorLike(record.err)) msg = record.err.message;
  }
  let text = "";
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const raw = (fields as Record<string, unknown>)[key];
    if (raw === undefined) continue;
    const value = valueText(key === "err" ? serializeError(raw) : raw);
    if (value !== undefined) text += `,${JSON.stringify(key)}:${value}`;
  }
  if (msg !== undefined && typeof msg !== "function") text += `,"msg":${valueText(msg) ?? "null"}`;
  return text;
}

/** `,"key":value` for each binding, as pino's `asChindings` (which skips these four keys). */
function bindingsText(parent: string, bindings: Record<string, unknown>): string {
  let text = parent;
  for (const key in bindings) {
    const raw = bindings[key];
    if (!Object.hasOwn(bindings, key) || raw === undefined || IGNORED_BINDINGS.has(key)) continue;
    const value = valueText(key === "err" ? serializeError(raw) : raw);
    if (value !== undefined) text += `,${JSON.stringify(key)}:${value}`;
  }
  return text;
}

const IGNORED_BINDINGS = new Set(["level", "serializers", "formatters", "customLevels"]);

/** One value as JSON: undefined for what pino leaves out (functions, undefined). */
function valueText(value: unknown): string | undefined {
  switch (typeof value) {
    case "undefined":
    case "function":
      return undefined;
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return String(value);
    case "string":
      return JSON.stringify(value);
    default:
      try {
        return JSON.stringify(value);
      } catch {
        // Circular references and BigInts, which JSON.stringify refuses: pino then uses
        // safe-stable-stringify, which sorts keys and writes these two as below.
        return safeText(value, []);
      }
  }
}

/**
 * safe-stable-stringify's output with pino's settings for what JSON.stringify refuses: keys
 * sorted, a reference to an enclosing object as "[Circular]", a BigInt as its digits, and
 * pino's limits: objects deeper than 5 levels as "[Object]" / "[Array]", arrays beyond 100 items
 * cut with a count, objects beyond 100 keys cut to the first 100 sorted.
 */
function safeText(value: unknown, ancestors: object[]): string | undefined {
  if (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { toJSON?: unknown }).toJSON === "function"
  ) {
    return safeText((value as { toJSON: () => unknown }).toJSON(), ancestors);
  }
  switch (typeof value) {
    case "bigint":
      return String(value);
    case "object": {
      if (value === null) return "null";
      if (ancestors.includes(value)) return '"[Circular]"';
      if (ancestors.length >= MAX_DEPTH) return Array.isArray(value) ? '"[Array]"' : '"[Object]"';
      const inner = [...ancestors, value];
      if (Array.isArray(value)) {
        const items = value.slice(0, MAX_BREADTH).map((item) => safeText(item, inner) ?? "null");
        if (value.length > MAX_BREADTH) {
          const rest = value.length - MAX_BREADTH;
          items.push(`"... ${rest} item${rest > 1 ? "s" : ""} not stringified"`);
        }
        return `[${items.join(",")}]`;
      }
      const keys = Object.keys(value).sort();
      const parts: string[] = [];
      for (const key of keys.slice(0, MAX_BREADTH)) {
        const text = safeText((value as Record<string, unknown>)[key], inner);
        if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
      }
      if (keys.length > MAX_BREADTH) {
        const rest = keys.length - MAX_BREADTH;
        parts.push(`"...":"${rest} item${rest > 1 ? "s" : ""} not stringified"`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return valueText(value);
  }
}

const MAX_DEPTH = 5;
const MAX_BREADTH = 100;

interface ErrorLike {
  message: string;
  stack?: unknown;
  cause?: unknown;
  errors?: unknown;
  name?: unknown;
}

function isErrorLike(value: unknown): value is ErrorLike {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/**
 * pino's default `err` serializer (pino-std-serializers' `err`): type, message and stack with
 * their causes, the errors of an AggregateError, then the error's other enumerable fields.
 */
function serializeError(value: unknown, seen: Set<object> = new Set()): unknown {
  if (!isErrorLike(value)) return value;
  seen.add(value);
  const out: Record<string, unknown> = {
    type: typeof value.constructor === "function" ? value.constructor.name : value.name,
    message: messageWithCauses(value, new Set(), false),
    stack: stackWithCauses(value, new Set()),
  };
  if (Array.isArray(value.errors)) out.aggregateErrors = value.errors.map((error) => serializeError(error));
  for (const key in value) {
    if (out[key] !== undefined || key === "raw") continue;
    const field = (value as unknown as Record<string, unknown>)[key];
    if (isErrorLike(field)) {
      if (key !== "cause" && !seen.has(field)) out[key] = serializeError(field, seen);
    } else {
      out[key] = field;
    }
  }
  seen.delete(value);
  return out;
}

function causeOf(error: ErrorLike): ErrorLike | undefined {
  const cause = typeof error.cause === "function" ? (error.cause as () => unknown)() : error.cause;
  return isErrorLike(cause) ? cause : undefined;
}

function stackWithCauses(error: ErrorLike, seen: Set<ErrorLike>): string {
  const stack = typeof error.stack === "string" ? error.stack : "";
  if (seen.has(error)) return `${stack}\ncauses have become circular...`;
  const cause = causeOf(error);
  if (cause === undefined) return stack;
  seen.add(error);
  return `${stack}\ncaused by: ${stackWithCauses(cause, seen)}`;
}

function messageWithCauses(error: ErrorLike, seen: Set<ErrorLike>, skip: boolean): string {
  const message = skip ? "" : error.message;
  if (seen.has(error)) return `${message}: ...`;
  const cause = causeOf(error);
  if (cause === undefined) return message;
  seen.add(error);
  const verrorStyle = typeof error.cause === "function";
  return `${message}${verrorStyle ? "" : ": "}${messageWithCauses(cause, seen, verrorStyle)}`;
}

/** One pause of a millisecond while stdout is full (a non-blocking pipe), as sonic-boom does. */
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeToStdout(line: string): void {
  const bytes = Buffer.from(line);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      // A log line is never worth failing the caller: a closed stdout drops it.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
