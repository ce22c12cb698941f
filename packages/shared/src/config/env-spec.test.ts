import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors/crowsnest-error.ts";
import { commonEnv } from "./common-env.ts";
import {
  envBoolean,
  envEnum,
  envInteger,
  envList,
  envString,
  envUrl,
  envUrlList,
  parseEnv,
} from "./env-spec.ts";

const spec = {
  NAME: envString({ description: "a name" }),
  COUNT: envInteger({ description: "a count", default: 10, min: 1, max: 100 }),
  FLAG: envBoolean({ description: "a flag", default: false }),
  MODE: envEnum(["a", "b"] as const, { description: "a mode", default: "a" }),
  DB: envUrl({ description: "a db", default: "postgres://x/y", protocols: ["postgres", "postgresql"] }),
  SERVERS: envUrlList({ description: "servers", default: ["nats://h:1"], protocols: ["nats"] }),
};

describe("parseEnv", () => {
  it("applies defaults and treats empty values as unset", () => {
    expect(parseEnv(spec, { NAME: "n", COUNT: "", FLAG: "" })).toEqual({
      NAME: "n",
      COUNT: 10,
      FLAG: false,
      MODE: "a",
      DB: "postgres://x/y",
      SERVERS: ["nats://h:1"],
    });
  });

  it("parses valid values", () => {
    const values = parseEnv(spec, {
      NAME: "n",
      COUNT: "100",
      FLAG: "yes",
      MODE: "b",
      DB: "postgresql://u@db:5432/c",
      SERVERS: "nats://a:4222, nats://b:4222",
    });
    expect(values).toMatchObject({
      COUNT: 100,
      FLAG: true,
      MODE: "b",
      SERVERS: ["nats://a:4222", "nats://b:4222"],
    });
  });

  it("names every bad variable, what it expected and what it got", () => {
    let error: unknown;
    try {
      parseEnv(spec, {
        COUNT: "1e3",
        FLAG: "maybe",
        MODE: "c",
        DB: "mysql://x",
        SERVERS: "nats://ok,http://no",
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain("NAME is required");
    expect(message).toContain('COUNT must be an integer from 1 to 100, got "1e3"');
    expect(message).toContain('FLAG must be true or false, got "maybe"');
    expect(message).toContain('MODE must be one of a, b, got "c"');
    expect(message).toContain("DB must be a URL starting with postgres:// or postgresql://");
    expect(message).toContain("SERVERS must be comma-separated values, each a URL starting with nats://");
  });

  it("rejects integers out of range and unsafe ones", () => {
    for (const bad of ["0", "101", "-5", "99999999999999999999", "ten", "5.5"]) {
      expect(() => parseEnv({ COUNT: spec.COUNT }, { COUNT: bad })).toThrow(/COUNT must be an integer/);
    }
  });

  it("parses lists and never repeats a secret's value in an error", () => {
    const tokens = envList({
      description: "t",
      itemPattern: /^[a-z0-9]{16,}$/,
      itemText: "16+ characters",
      secret: true,
    });
    expect(parseEnv({ TOKENS: tokens }, { TOKENS: " aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb ," }).TOKENS).toEqual([
      "aaaaaaaaaaaaaaaa",
      "bbbbbbbbbbbbbbbb",
    ]);
    expect(parseEnv({ TOKENS: tokens }, {}).TOKENS).toEqual([]);
    let message = "";
    try {
      parseEnv({ TOKENS: tokens }, { TOKENS: "aaaaaaaaaaaaaaaa,short-secret" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("TOKENS must be comma-separated items, each 16+ characters (item 2 is not)");
    expect(message).not.toContain("short-secret");
    expect(message).not.toContain("aaaa");
  });

  it("validates the shared subject prefix like the subject builder does", () => {
    expect(() => parseEnv(commonEnv, { CROWSNEST_SUBJECT_PREFIX: "a.*" })).toThrow(
      /CROWSNEST_SUBJECT_PREFIX/,
    );
    expect(parseEnv(commonEnv, { CROWSNEST_SUBJECT_PREFIX: "acme.prod" }).CROWSNEST_SUBJECT_PREFIX).toBe(
      "acme.prod",
    );
  });
});
