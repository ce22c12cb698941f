// Cuts a byte stream of newline-delimited JSON (dockerd's event stream) into complete lines,
// whatever the chunking: a line split across chunks, many lines in one chunk, a UTF-8
// character split between chunks. A runaway line without a newline is dropped rather than
// buffered without bound, and there is no small fixed limit either (sind's 64 KB scanner
// limit silently ended its event stream on a container with many labels).
import { StringDecoder } from "node:string_decoder";

export interface LineSplitterOptions {
  /** Longest line kept, in UTF-16 code units; longer ones are dropped whole. */
  maxLineLength: number;
  /** Told the length seen so far of every line that was dropped for being too long. */
  onOversizedLine?: (length: number) => void;
}

export interface LineSplitter {
  /** The lines completed by this chunk, without line ends; blank lines are left out. */
  push(chunk: Uint8Array | string): string[];
  /** At the end of the stream: the unterminated last line, if any. */
  end(): string[];
}

export const DEFAULT_MAX_LINE_LENGTH = 4 * 1024 * 1024;

export function createLineSplitter(
  options: LineSplitterOptions = { maxLineLength: DEFAULT_MAX_LINE_LENGTH },
): LineSplitter {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  // While true, everything up to the next newline belongs to a dropped line.
  let discarding = false;
  let discardedLength = 0;

  const keep = (line: string, into: string[]): void => {
    const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (trimmed.trim() !== "") into.push(trimmed);
  };

  const dropOversized = (length: number): void => {
    options.onOversizedLine?.(length);
  };

  return {
    push(chunk) {
      const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
      const lines: string[] = [];
      let start = 0;
      for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
        const piece = text.slice(start, newline);
        start = newline + 1;
        if (discarding) {
          discarding = false;
          dropOversized(discardedLength + piece.length);
          discardedLength = 0;
          continue;
        }
        const line = pending + piece;
        pending = "";
        if (line.length > options.maxLineLength) dropOversized(line.length);
        else keep(line, lines);
      }
      const rest = text.slice(start);
      if (discarding) {
        discardedLength += rest.length;
      } else {
        pending += rest;
        if (pending.length > options.maxLineLength) {
          discarding = true;
          discardedLength = pending.length;
          pending = "";
        }
      }
      return lines;
    },
    end() {
      const rest = pending + decoder.end();
      pending = "";
      if (discarding) {
        discarding = false;
        dropOversized(discardedLength + rest.length);
        return [];
      }
      const lines: string[] = [];
      keep(rest, lines);
      return lines;
    },
  };
}
