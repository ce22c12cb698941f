// Packs log lines into reply chunks that each fit the NATS server's max payload. Sizes are
// computed, not guessed: a chunk's encoded size is its envelope with no lines plus each line's
// JSON and the commas between them. A line that cannot fit a chunk even alone is cut into
// several lines of the same stream and time (a 1 MiB line on a 1 MiB server).
import type { AssembledLine } from "./log-line-assembler.ts";

const utf8 = new TextEncoder();
const byteLength = (value: unknown): number => utf8.encode(JSON.stringify(value)).length;

/** The largest envelope a chunk can have: the widest seq, and `false` is longer than `true`. */
const ENVELOPE_BYTES = byteLength({ v: 1, ok: true, seq: Number.MAX_SAFE_INTEGER, lines: [], done: false });

/** Cuts a line's text until every piece's JSON is at most `maxBytes`. */
export function splitLineToFit(line: AssembledLine, maxBytes: number): AssembledLine[] {
  if (byteLength(line) <= maxBytes || line.text.length <= 1) return [line];
  let middle = Math.floor(line.text.length / 2);
  // Keep a surrogate pair (an emoji, say) together.
  const code = line.text.charCodeAt(middle - 1);
  if (code >= 0xd800 && code <= 0xdbff) middle += 1;
  return [
    ...splitLineToFit({ ...line, text: line.text.slice(0, middle) }, maxBytes),
    ...splitLineToFit({ ...line, text: line.text.slice(middle) }, maxBytes),
  ];
}

export class LogChunkPacker {
  readonly #maxBytes: number;
  #lines: AssembledLine[] = [];
  #bytes = ENVELOPE_BYTES;

  /** `maxBytes`: the most a whole encoded chunk may take. */
  constructor(maxBytes: number) {
    // An envelope and one short line always fit, whatever the server says.
    this.#maxBytes = Math.max(maxBytes, ENVELOPE_BYTES + 256);
  }

  get pendingLines(): number {
    return this.#lines.length;
  }

  /** Adds a line; returns the chunks it filled (usually none), oldest first. */
  add(line: AssembledLine): AssembledLine[][] {
    const full: AssembledLine[][] = [];
    for (const piece of splitLineToFit(line, this.#maxBytes - ENVELOPE_BYTES)) {
      const size = byteLength(piece);
      const separator = this.#lines.length > 0 ? 1 : 0;
      if (this.#bytes + separator + size > this.#maxBytes) full.push(this.take());
      this.#bytes += (this.#lines.length > 0 ? 1 : 0) + size;
      this.#lines.push(piece);
    }
    return full;
  }

  /** The lines not yet in a full chunk (possibly none), which start a new chunk. */
  take(): AssembledLine[] {
    const lines = this.#lines;
    this.#lines = [];
    this.#bytes = ENVELOPE_BYTES;
    return lines;
  }
}
