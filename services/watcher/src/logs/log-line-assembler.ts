// Turns a container's log output into lines tagged with their stream, in the order they were
// written. Multiplexed output is demultiplexed first and each stream keeps its own unfinished
// line, so a line cut across frames (Docker splits entries over 16 KiB) or across chunks is
// joined back, and stdout and stderr never mix within a line. A TTY container's output is one
// stream, tagged `tty`. A last line without a newline still counts.
//
// With timestamps, dockerd puts `<RFC 3339 nanoseconds> ` before every entry: it is taken off
// and becomes the line's `ts` (of the entry the line began in).
import { createLogDemuxer, type FramePiece, type OutputStream } from "./docker-log-demuxer.ts";

export type LogStreamTag = OutputStream | "tty";

export interface AssembledLine {
  readonly stream: LogStreamTag;
  /** Bus timestamp (milliseconds), or null without timestamps. */
  readonly ts: string | null;
  readonly text: string;
}

export interface LogLineAssemblerOptions {
  tty: boolean;
  timestamps: boolean;
  /** A line longer than this many bytes is handed on in pieces of this size. */
  maxLineBytes?: number;
}

export interface LogLineAssembler {
  push(chunk: Uint8Array | string): AssembledLine[];
  end(): AssembledLine[];
  /** Multiplexed output whose framing broke (it is then passed on as stdout). */
  readonly corrupted: boolean;
}

export const DEFAULT_MAX_LINE_BYTES = 256 * 1024;

const NEWLINE = 0x0a;
const SPACE = 0x20;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
/** `2026-11-21T20:15:00.123456789+00:00` is the longest prefix dockerd writes, 35 bytes. */
const MAX_TIMESTAMP_BYTES = 40;

const utf8 = new TextEncoder();

/** The bus form of dockerd's timestamp, or undefined when `text` is not one. */
export function parseDockerLogTimestamp(text: string): string | undefined {
  const match = TIMESTAMP.exec(text);
  if (match === null) return undefined;
  const [, seconds = "", fraction = "", zone = "Z"] = match;
  const ms = Date.parse(`${seconds}.${fraction.padEnd(3, "0").slice(0, 3)}${zone}`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Splits `<timestamp> <rest>` off the front of an entry; no timestamp: undefined and the bytes whole. */
function splitTimestamp(bytes: Uint8Array): { ts: string | undefined; rest: Uint8Array } {
  const space = bytes.subarray(0, MAX_TIMESTAMP_BYTES).indexOf(SPACE);
  if (space <= 0) return { ts: undefined, rest: bytes };
  const ts = parseDockerLogTimestamp(new TextDecoder().decode(bytes.subarray(0, space)));
  return ts === undefined ? { ts: undefined, rest: bytes } : { ts, rest: bytes.subarray(space + 1) };
}

/** Where to cut `bytes` at most `limit` long without splitting a UTF-8 character. */
function utf8Boundary(bytes: Uint8Array, limit: number): number {
  let cut = Math.min(limit, bytes.length);
  // Continuation bytes are 10xxxxxx; back up to the start of the character.
  while (cut > 0 && cut < bytes.length && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut -= 1;
  return cut === 0 ? Math.min(limit, bytes.length) : cut;
}

/** The unfinished line of one stream. */
class PendingLine {
  readonly #stream: LogStreamTag;
  readonly #maxBytes: number;
  readonly #decoder = new TextDecoder();
  #parts: Uint8Array[] = [];
  #bytes = 0;
  /** The time of the entry the line began in. */
  ts: string | null = null;

  constructor(stream: LogStreamTag, maxBytes: number) {
    this.#stream = stream;
    this.#maxBytes = maxBytes;
  }

  get empty(): boolean {
    return this.#bytes === 0;
  }

  /** Adds bytes without a newline; a line grown past the limit is handed on in pieces. */
  append(bytes: Uint8Array, out: AssembledLine[]): void {
    let rest = bytes;
    while (this.#bytes + rest.length > this.#maxBytes) {
      const cut = utf8Boundary(rest, this.#maxBytes - this.#bytes);
      this.#parts.push(rest.subarray(0, cut));
      this.#bytes += cut;
      rest = rest.subarray(cut);
      this.finish(out, false);
    }
    if (rest.length > 0) {
      this.#parts.push(rest);
      this.#bytes += rest.length;
    }
  }

  /** Hands on the line (a newline came, or the stream ended, or it is too long). */
  finish(out: AssembledLine[], resetTs = true): void {
    const whole = new Uint8Array(this.#bytes);
    let offset = 0;
    for (const part of this.#parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    let text = this.#decoder.decode(whole);
    // A terminal ends lines with CR LF.
    if (this.#stream === "tty" && text.endsWith("\r")) text = text.slice(0, -1);
    out.push({ stream: this.#stream, ts: this.ts, text });
    this.#parts = [];
    this.#bytes = 0;
    if (resetTs) this.ts = null;
  }
}

export function createLogLineAssembler(options: LogLineAssemblerOptions): LogLineAssembler {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const demuxer = options.tty ? undefined : createLogDemuxer();
  const pending = {
    stdout: new PendingLine("stdout", maxLineBytes),
    stderr: new PendingLine("stderr", maxLineBytes),
    tty: new PendingLine("tty", maxLineBytes),
  };

  /** Output of one entry (or a piece of one) of a stream. */
  const addEntry = (line: PendingLine, bytes: Uint8Array, entryTs: string | null, out: AssembledLine[]) => {
    let start = 0;
    for (let newline = bytes.indexOf(NEWLINE); newline !== -1; newline = bytes.indexOf(NEWLINE, start)) {
      if (line.empty) line.ts ??= entryTs;
      line.append(bytes.subarray(start, newline), out);
      line.finish(out);
      start = newline + 1;
    }
    if (start < bytes.length) {
      if (line.empty) line.ts ??= entryTs;
      line.append(bytes.subarray(start), out);
    }
  };

  /** The time of the entry each stream is in, for the later pieces of a large frame. */
  const entryTs: Record<OutputStream, string | null> = { stdout: null, stderr: null };

  const addPiece = (piece: FramePiece, out: AssembledLine[]) => {
    let bytes = piece.bytes;
    if (options.timestamps && piece.frameStart) {
      const split = splitTimestamp(bytes);
      bytes = split.rest;
      entryTs[piece.stream] = split.ts ?? null;
    }
    addEntry(pending[piece.stream], bytes, entryTs[piece.stream], out);
  };

  // A TTY stream has no frames: the time prefix is at the start of each line.
  const withTtyTimestamp = (line: AssembledLine): AssembledLine => {
    if (!options.timestamps) return line;
    const space = line.text.indexOf(" ");
    const ts = space > 0 ? parseDockerLogTimestamp(line.text.slice(0, space)) : undefined;
    return ts === undefined ? line : { ...line, ts, text: line.text.slice(space + 1) };
  };

  const pushTty = (bytes: Uint8Array): AssembledLine[] => {
    const out: AssembledLine[] = [];
    addEntry(pending.tty, bytes, null, out);
    return out.map(withTtyTimestamp);
  };

  return {
    push(chunk) {
      const bytes = typeof chunk === "string" ? utf8.encode(chunk) : chunk;
      if (demuxer === undefined) return pushTty(bytes);
      const out: AssembledLine[] = [];
      for (const piece of demuxer.push(bytes)) addPiece(piece, out);
      return out;
    },
    end() {
      const out: AssembledLine[] = [];
      if (demuxer !== undefined) for (const piece of demuxer.end()) addPiece(piece, out);
      for (const line of [pending.stdout, pending.stderr]) if (!line.empty) line.finish(out);
      if (!pending.tty.empty) {
        const last: AssembledLine[] = [];
        pending.tty.finish(last);
        out.push(...last.map(withTtyTimestamp));
      }
      return out;
    },
    get corrupted() {
      return demuxer?.corrupted ?? false;
    },
  };
}
