import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createJsonFileAssembler, offsetOfLastRecords } from "./json-file-log.ts";

const record = (stream: string, log: string, time = "2026-12-05T10:00:00.5Z") =>
  `${JSON.stringify({ log, stream, time })}\n`;

describe("createJsonFileAssembler", () => {
  it("joins a line the writer split over records, across chunks, and keeps streams apart", () => {
    const assembler = createJsonFileAssembler({ stream: "both", maxLineChars: 1000 });
    const text = record("stdout", "half ") + record("stderr", "err\n") + record("stdout", "whole\n");
    const lines = [
      ...assembler.push(text.slice(0, 30)),
      ...assembler.push(text.slice(30)),
      ...assembler.end(),
    ];
    expect(lines).toEqual([
      { stream: "stderr", ts: "2026-12-05T10:00:00.500Z", text: "err" },
      { stream: "stdout", ts: "2026-12-05T10:00:00.500Z", text: "half whole" },
    ]);
  });

  it("skips what is not a log record, keeps one stream when asked, and cuts over-long lines", () => {
    const assembler = createJsonFileAssembler({ stream: "stdout", maxLineChars: 4 });
    const lines = assembler.push(
      `not json\n${record("stderr", "no\n")}{"log":1}\n${record("stdout", "abcdefghij\n")}`,
    );
    expect(lines.map((line) => line.text)).toEqual(["abcd", "efgh", "ij"]);
    expect(assembler.skipped).toBe(2);
  });
});

describe("offsetOfLastRecords", () => {
  it("finds where the last N records start, and 0 for a file with fewer", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crowsnest-json-log-"));
    try {
      const path = join(dir, "c-json.log");
      const [one, two, three] = [record("stdout", "1\n"), record("stdout", "2\n"), record("stdout", "3\n")];
      const records = [one, two, three];
      await writeFile(path, records.join(""));
      expect(await offsetOfLastRecords(path, 1)).toBe(one.length + two.length);
      expect(await offsetOfLastRecords(path, 0)).toBe(records.join("").length);
      expect(await offsetOfLastRecords(path, 5)).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
