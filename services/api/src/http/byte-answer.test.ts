import { describe, expect, it } from "vitest";
import { ByteAnswer } from "./byte-answer.ts";

describe("an answer written from pieces", () => {
  it("writes text and kept bytes in order, as UTF-8, in one buffer of the counted length", () => {
    const answer = new ByteAnswer();
    answer.push('{"name":"', Buffer.from("wébserver-ü"), '","note":"', "naïve ☃ 🚀", '"}');
    answer.push("", Buffer.alloc(0));
    const bytes = answer.toBuffer();
    expect(bytes.byteLength).toBe(answer.byteLength);
    expect(JSON.parse(bytes.toString("utf8"))).toEqual({ name: "wébserver-ü", note: "naïve ☃ 🚀" });
  });

  it("counts its length between pushes and keeps writing after", () => {
    const answer = new ByteAnswer().push("[", "é");
    expect(answer.byteLength).toBe(3);
    answer.push(",", Buffer.from("2"), "]");
    expect(answer.toBuffer().toString("utf8")).toBe("[é,2]");
    expect(answer.byteLength).toBe(6);
  });

  it("is empty with no pieces", () => {
    expect(new ByteAnswer().toBuffer().byteLength).toBe(0);
  });
});
