import { describe, expect, it } from "vitest";
import { createLogLineAssembler, parseDockerLogTimestamp } from "./log-line-assembler.ts";

const utf8 = new TextEncoder();

/** One frame of Docker's multiplexed stream. */
function frame(stream: 1 | 2, text: string | Uint8Array): Uint8Array {
  const payload = typeof text === "string" ? utf8.encode(text) : text;
  const out = new Uint8Array(8 + payload.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, payload.length, false);
  out.set(payload, 8);
  return out;
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Feeds `bytes` in pieces of `size` (1 = every byte its own chunk, headers split too). */
function assemble(bytes: Uint8Array, size: number, options = { tty: false, timestamps: false }) {
  const assembler = createLogLineAssembler(options);
  const lines = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    lines.push(...assembler.push(bytes.subarray(offset, offset + size)));
  }
  lines.push(...assembler.end());
  return { lines, corrupted: assembler.corrupted };
}

describe("createLogLineAssembler (multiplexed)", () => {
  const interleaved = join([1, 2, 3].flatMap((i) => [frame(1, `out${i}\n`), frame(2, `err${i}\n`)]));

  it.each([1, 3, 7, 8, 9, 1000])(
    "keeps stdout and stderr lines in their order with chunks of %i bytes",
    (size) => {
      const { lines, corrupted } = assemble(interleaved, size);
      expect(corrupted).toBe(false);
      expect(lines.map((line) => `${line.stream}:${line.text}`)).toEqual([
        "stdout:out1",
        "stderr:err1",
        "stdout:out2",
        "stderr:err2",
        "stdout:out3",
        "stderr:err3",
      ]);
      expect(lines.every((line) => line.ts === null)).toBe(true);
    },
  );

  it("joins a line cut across frames per stream, and keeps an unterminated last line", () => {
    const bytes = join([
      frame(1, "hel"),
      frame(2, "warn"),
      frame(1, "lo\nsecond"),
      frame(2, "ing\n"),
      frame(1, " line"),
    ]);
    const { lines } = assemble(bytes, 5);
    expect(lines.map((line) => `${line.stream}:${line.text}`)).toEqual([
      "stdout:hello",
      "stderr:warning",
      "stdout:second line",
    ]);
  });

  it("keeps empty lines and several lines in one frame", () => {
    const { lines } = assemble(frame(1, "a\n\nb\n"), 2);
    expect(lines.map((line) => line.text)).toEqual(["a", "", "b"]);
  });

  it("keeps a UTF-8 character cut across frames and chunks whole", () => {
    const snowman = utf8.encode("☃\n");
    const { lines } = assemble(join([frame(1, snowman.subarray(0, 1)), frame(1, snowman.subarray(1))]), 1);
    expect(lines.map((line) => line.text)).toEqual(["☃"]);
  });

  it("takes each entry's timestamp off and gives it to the line that began in it", () => {
    const bytes = join([
      frame(1, "2026-11-21T20:15:00.123456789Z hello\n"),
      frame(2, "2026-11-21T20:15:01.000000001Z part one "),
      frame(2, "2026-11-21T20:15:01.500000000Z and two\n"),
    ]);
    const { lines } = assemble(bytes, 4, { tty: false, timestamps: true });
    expect(lines).toEqual([
      { stream: "stdout", ts: "2026-11-21T20:15:00.123Z", text: "hello" },
      { stream: "stderr", ts: "2026-11-21T20:15:01.000Z", text: "part one and two" },
    ]);
  });

  it("cuts a runaway line into pieces of the limit", () => {
    const assembler = createLogLineAssembler({ tty: false, timestamps: false, maxLineBytes: 4 });
    const lines = [...assembler.push(frame(1, "abcdefghij\n")), ...assembler.end()];
    expect(lines.map((line) => line.text)).toEqual(["abcd", "efgh", "ij"]);
  });

  it("passes output that is not multiplexed through as stdout instead of losing it", () => {
    const { lines, corrupted } = assemble(utf8.encode("plain text\nmore\n"), 4);
    expect(corrupted).toBe(true);
    expect(lines.map((line) => `${line.stream}:${line.text}`)).toEqual(["stdout:plain text", "stdout:more"]);
  });
});

describe("createLogLineAssembler (TTY)", () => {
  it("tags every line tty, drops the terminal's CR, and reads the timestamp at each line's start", () => {
    const bytes = utf8.encode("2026-11-21T20:15:00.1Z one\r\n2026-11-21T20:15:02Z two\r\nthree");
    const { lines } = assemble(bytes, 3, { tty: true, timestamps: true });
    expect(lines).toEqual([
      { stream: "tty", ts: "2026-11-21T20:15:00.100Z", text: "one" },
      { stream: "tty", ts: "2026-11-21T20:15:02.000Z", text: "two" },
      { stream: "tty", ts: null, text: "three" },
    ]);
  });
});

describe("parseDockerLogTimestamp", () => {
  it("reads RFC 3339 with up to nanoseconds, and nothing else", () => {
    expect(parseDockerLogTimestamp("2026-11-21T20:15:00.999999999Z")).toBe("2026-11-21T20:15:00.999Z");
    expect(parseDockerLogTimestamp("hello")).toBeUndefined();
  });
});
