import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createJsonLineLogger } from "./json-line-logger.ts";
import type { Logger, LoggerOptions } from "./logger.ts";

/** pino as createLogger configures it, writing to `lines`. */
function pinoLogger(options: LoggerOptions, lines: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return pino(
    {
      level: options.level,
      base: { service: options.service, ...(options.host === undefined ? {} : { host: options.host }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
}

/** The lines each logger writes for the same calls, with the time (which differs) blanked. */
function bothWrite(
  options: LoggerOptions,
  calls: (logger: Logger) => void,
): { ours: string[]; pino: string[] } {
  const ours: string[] = [];
  const theirs: string[] = [];
  calls(createJsonLineLogger(options, (line) => void ours.push(line)));
  calls(pinoLogger(options, theirs));
  const blank = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');
  return { ours: ours.map(blank), pino: theirs.map(blank) };
}

const options: LoggerOptions = { service: "collector", level: "info", host: "node-1" };

describe("createJsonLineLogger", () => {
  it("writes pino's line for a message, fields and a message, and fields alone", () => {
    const { ours, pino } = bothWrite(options, (logger) => {
      logger.info("started");
      logger.warn({ containers: 3, runtime: "docker", ok: true, nothing: null }, "slow tick");
      logger.error({ reason: 'quote " and \\ and \n newline', nested: { list: [1, "two", { three: 3 }] } });
      logger.info({ msg: "the message as a field" });
    });
    expect(pino).toHaveLength(4);
    expect(ours).toEqual(pino);
  });

  it("leaves out undefined values and functions, and writes non-finite numbers as null, as pino does", () => {
    const { ours, pino } = bothWrite(options, (logger) => {
      logger.info(
        { gone: undefined, fn: () => 1, nan: Number.NaN, inf: Number.POSITIVE_INFINITY, n: -0.5 },
        "m",
      );
      logger.info(null, "null fields");
    });
    expect(pino).toHaveLength(2);
    expect(ours).toEqual(pino);
  });

  it("serializes errors as pino does: under err, with causes, aggregate errors and extra fields", () => {
    const inner = new TypeError("inner");
    const outer = Object.assign(new Error("outer", { cause: inner }), { code: "E_OUTER", status: 503 });
    const aggregate = new AggregateError([new Error("one"), new RangeError("two")], "several");
    const { ours, pino } = bothWrite(options, (logger) => {
      logger.error({ err: outer }, "failed");
      logger.error(outer);
      logger.error(outer, "with a message");
      logger.warn({ err: aggregate });
      logger.warn({ err: { message: "error-like", extra: 1 } });
      logger.warn({ err: "not an error" }, "string err");
      logger.info({ other: new Error("not under err") }, "an error elsewhere");
    });
    expect(pino).toHaveLength(7);
    expect(ours).toEqual(pino);
  });

  it("adds base and child bindings before the fields, as pino does", () => {
    const bound = new Error("bound");
    const { ours, pino } = bothWrite({ service: "watcher", level: "debug" }, (logger) => {
      const child = logger.child({ runtime: "docker", skipped: undefined, level: "ignored", err: bound });
      child.debug({ container: "abc" }, "event");
      child.child({ stream: "events" }).info("nested child");
    });
    expect(pino).toHaveLength(2);
    expect(ours).toEqual(pino);
  });

  it("writes what JSON.stringify refuses (circular references, BigInts) as pino does", () => {
    const circular: Record<string, unknown> = { b: 2, a: 1 };
    circular.self = circular;
    const { ours, pino } = bothWrite(options, (logger) => {
      logger.info({ circular }, "circular");
      logger.info({ big: 12345678901234567890n, inside: { z: 1n, y: [2n] } }, "bigints");
      logger.info({ deep: { a: { b: { c: { d: { e: { f: 1n } } } } } } }, "deep");
    });
    expect(pino).toHaveLength(3);
    expect(ours).toEqual(pino);
  });

  it("writes only the levels at or above its own, and nothing when silent", () => {
    for (const level of ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const) {
      const { ours, pino } = bothWrite({ service: "s", level }, (logger) => {
        logger.trace("t");
        logger.debug("d");
        logger.info("i");
        logger.warn("w");
        logger.error("e");
        logger.fatal("f");
      });
      expect(ours).toEqual(pino);
      const logger = createJsonLineLogger({ service: "s", level }, () => undefined);
      const reference = pinoLogger({ service: "s", level }, []);
      for (const asked of ["trace", "debug", "info", "warn", "error", "fatal"]) {
        expect(logger.isLevelEnabled(asked)).toBe(reference.isLevelEnabled(asked));
      }
      expect(logger.level).toBe(level);
    }
  });
});
