import { codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { LogChunkPacker, splitLineToFit } from "./log-chunk-packer.ts";
import type { AssembledLine } from "./log-line-assembler.ts";

function encodedSize(seq: number, lines: AssembledLine[], done: boolean): number {
  const encoded = codecs.logsReply.encode({ v: 1, ok: true, seq, lines, done });
  if (!encoded.ok) throw new Error(encoded.detail);
  return encoded.data.length;
}

const line = (i: number, text = `line ${i} ${"x".repeat(80)}`): AssembledLine => ({
  stream: i % 2 === 0 ? "stdout" : "stderr",
  ts: "2026-11-21T20:15:00.123Z",
  text,
});

describe("LogChunkPacker", () => {
  it("fills chunks up to the limit, never over it, and loses or reorders nothing", () => {
    const maxBytes = 2048;
    const packer = new LogChunkPacker(maxBytes);
    const all = Array.from({ length: 200 }, (_, i) => line(i));
    const chunks = all.flatMap((entry) => packer.add(entry));
    chunks.push(packer.take());
    expect(chunks.length).toBeGreaterThan(5);
    for (const [seq, chunk] of chunks.entries()) {
      expect(encodedSize(seq, chunk, seq === chunks.length - 1)).toBeLessThanOrEqual(maxBytes);
    }
    // Packed: a chunk holds as many lines as fit.
    expect(chunks[0]?.length).toBeGreaterThan(10);
    expect(chunks.flat()).toEqual(all);
  });

  it("cuts a line too big for one chunk into lines of the same stream and time that fit", () => {
    const maxBytes = 1024;
    const packer = new LogChunkPacker(maxBytes);
    // Quotes and control characters take more bytes in JSON than in the text.
    const text = `${"a".repeat(1500)}"\u0001${"é".repeat(700)}😀${"b".repeat(300)}`;
    const chunks = [...packer.add(line(1, text)), packer.take()];
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) expect(encodedSize(99, chunk, false)).toBeLessThanOrEqual(maxBytes);
    const pieces = chunks.flat();
    expect(pieces.map((piece) => piece.text).join("")).toBe(text);
    expect(
      pieces.every((piece) => piece.stream === "stderr" && piece.ts === "2026-11-21T20:15:00.123Z"),
    ).toBe(true);
  });

  it("leaves a line that fits alone", () => {
    expect(splitLineToFit(line(1, "short"), 1000)).toEqual([line(1, "short")]);
  });
});
