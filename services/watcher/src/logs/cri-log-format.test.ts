import { describe, expect, it } from "vitest";
import { createCriLogAssembler } from "./cri-log-format.ts";

const both = () => createCriLogAssembler({ stream: "both", maxLineChars: 1000 });

describe("the CRI log format", () => {
  it("tags each full entry with its stream and time", () => {
    const lines = both().push(
      "2026-12-05T20:00:00.123456789Z stdout F hello\n2026-12-05T20:00:01Z stderr F oops\n",
    );
    expect(lines).toEqual([
      { stream: "stdout", ts: "2026-12-05T20:00:00.123Z", text: "hello" },
      { stream: "stderr", ts: "2026-12-05T20:00:01.000Z", text: "oops" },
    ]);
  });

  it("joins partial entries of one stream, keeping the other stream apart, with the first part's time", () => {
    const assembler = both();
    const lines = [
      ...assembler.push("2026-12-05T20:00:00Z stdout P abc\n2026-12-05T20:00:01Z stderr F err\n"),
      ...assembler.push("2026-12-05T20:00:02Z stdout P def\n2026-12-05T20:00:03Z stdout F ghi\n"),
    ];
    expect(lines).toEqual([
      { stream: "stderr", ts: "2026-12-05T20:00:01.000Z", text: "err" },
      { stream: "stdout", ts: "2026-12-05T20:00:00.000Z", text: "abcdefghi" },
    ]);
  });

  it("keeps an entry cut across chunks, an empty line, spaces in the text, and tags after a colon", () => {
    const assembler = both();
    const lines = [
      ...assembler.push("2026-12-05T20:00:00Z stdout F a  b"),
      ...assembler.push("  c\n2026-12-05T20:00:01Z stdout F \n2026-12-05T20:00:02Z stdout F:x y\n"),
    ];
    expect(lines.map((line) => line.text)).toEqual(["a  b  c", "", "y"]);
  });

  it("serves one stream alone and skips what is not an entry", () => {
    const assembler = createCriLogAssembler({ stream: "stderr", maxLineChars: 1000 });
    const lines = assembler.push(
      "garbage\n2026-12-05T20:00:00Z stdout F out\n2026-12-05T20:00:00Z stderr F err\n",
    );
    expect(lines.map((line) => line.text)).toEqual(["err"]);
    expect(assembler.skipped).toBe(1);
  });

  it("hands on an unfinished partial line at the end, and cuts an over-long one", () => {
    const assembler = createCriLogAssembler({ stream: "both", maxLineChars: 4 });
    const lines = [...assembler.push("2026-12-05T20:00:00Z stdout P abcdef\n"), ...assembler.end()];
    expect(lines.map((line) => line.text)).toEqual(["abcd", "ef"]);
  });
});
