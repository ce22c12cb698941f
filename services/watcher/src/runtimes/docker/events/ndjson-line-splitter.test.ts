import { describe, expect, it } from "vitest";
import { createLineSplitter } from "./ndjson-line-splitter.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("createLineSplitter", () => {
  it("joins a line split across chunks", () => {
    const splitter = createLineSplitter();
    expect(splitter.push(bytes('{"Action":"st'))).toEqual([]);
    expect(splitter.push(bytes('art"}'))).toEqual([]);
    expect(splitter.push(bytes('\n{"Action":"die"}\n'))).toEqual(['{"Action":"start"}', '{"Action":"die"}']);
  });

  it("returns every line of a chunk that holds many", () => {
    const splitter = createLineSplitter();
    const chunk = Array.from({ length: 50 }, (_, i) => `{"n":${i}}`).join("\n");
    const lines = splitter.push(bytes(`${chunk}\n`));
    expect(lines).toHaveLength(50);
    expect(lines[49]).toBe('{"n":49}');
  });

  it("keeps a multi-byte character that straddles two chunks", () => {
    const splitter = createLineSplitter();
    const encoded = bytes('{"name":"café"}\n');
    const cut = encoded.indexOf(0xc3) + 1;
    expect(splitter.push(encoded.subarray(0, cut))).toEqual([]);
    expect(splitter.push(encoded.subarray(cut))).toEqual(['{"name":"café"}']);
  });

  it("passes a garbage line through as a line, leaving its neighbours intact", () => {
    const splitter = createLineSplitter();
    expect(splitter.push('{"a":1}\nnot json at all\n{"b":2}\n')).toEqual([
      '{"a":1}',
      "not json at all",
      '{"b":2}',
    ]);
  });

  it("drops CRs of CRLF line ends and blank lines", () => {
    const splitter = createLineSplitter();
    expect(splitter.push('{"a":1}\r\n\r\n  \n{"b":2}\r\n')).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("hands out an unterminated last line at the end of the stream", () => {
    const splitter = createLineSplitter();
    expect(splitter.push('{"a":1}\n{"b":')).toEqual(['{"a":1}']);
    expect(splitter.end()).toEqual(['{"b":']);
    expect(splitter.end()).toEqual([]);
  });

  it("drops a runaway line without buffering it and carries on after its newline", () => {
    const dropped: number[] = [];
    const splitter = createLineSplitter({ maxLineLength: 10, onOversizedLine: (n) => dropped.push(n) });
    expect(splitter.push("0123456789ABCDEF")).toEqual([]);
    expect(splitter.push("GHIJ")).toEqual([]);
    expect(splitter.push('KL\n{"ok":1}\n')).toEqual(['{"ok":1}']);
    expect(dropped).toEqual([22]);
    expect(splitter.push("0123456789AB\nshort\n")).toEqual(["short"]);
    expect(dropped).toEqual([22, 12]);
  });
});
