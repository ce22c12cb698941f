import { describe, expect, it } from "vitest";
import { parseDockerEventLine } from "./docker-event-parser.ts";

const ID = "97903311a7431334338b3df34b58c590284497a3b029e3064a8f4dfc102489b8";

describe("parseDockerEventLine", () => {
  it("keeps every digit of timeNano, which a JSON number would round", () => {
    const parsed = parseDockerEventLine(
      `{"Type":"container","Action":"start","Actor":{"ID":"${ID}","Attributes":{}},"time":1795294273,"timeNano":1795294273667975637}`,
    );
    expect(parsed.ok && parsed.event.timeNano).toBe("1795294273667975637");
  });

  it("takes the digits of the top-level timeNano, not text that only looks like it", () => {
    // A label whose value holds the key's text, and a nested timeNano after the real one.
    const parsed = parseDockerEventLine(
      `{"Type":"container","Action":"start","time":1795294273,"timeNano":1795294273667975637,"Actor":{"ID":"${ID}","Attributes":{"note":"\\"timeNano\\":1"},"timeNano":5}}`,
    );
    expect(parsed.ok && parsed.event.timeNano).toBe("1795294273667975637");
    expect(parsed.ok && parsed.event.attributes).toEqual({ note: '"timeNano":1' });
  });

  it("reads a timeNano written as a number that is not plain digits as JSON does", () => {
    const parsed = parseDockerEventLine(
      `{"Type":"container","Action":"start","Actor":{"ID":"${ID}","Attributes":{}},"timeNano":1.5e18}`,
    );
    expect(parsed.ok && parsed.event.timeNano).toBe("1500000000000000000");
  });

  it("leaves out a negative timeNano", () => {
    const parsed = parseDockerEventLine(
      `{"Type":"container","Action":"start","Actor":{"ID":"${ID}","Attributes":{}},"timeNano":-5}`,
    );
    expect(parsed.ok && parsed.event.timeNano).toBeUndefined();
  });

  it.each([
    ["garbage", "not json"],
    ["an array", "[1,2]"],
    ["no Type", '{"Action":"start"}'],
    ["no Action", '{"Type":"container"}'],
  ])("reports %s without throwing", (_, line) => {
    expect(parseDockerEventLine(line).ok).toBe(false);
  });

  it("drops attributes that are not strings", () => {
    const parsed = parseDockerEventLine(
      `{"Type":"container","Action":"start","Actor":{"ID":"${ID}","Attributes":{"a":"1","b":2,"c":null}},"time":1}`,
    );
    expect(parsed.ok && parsed.event.attributes).toEqual({ a: "1" });
  });
});
