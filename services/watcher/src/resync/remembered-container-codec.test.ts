import { describe, expect, it } from "vitest";
import type { RememberedContainer } from "./container-state-tracker.ts";
import { rememberedContainerCodec } from "./remembered-container-codec.ts";

const container: RememberedContainer = {
  name: "web",
  image: "busybox",
  labels: { "com.docker.compose.service": "web" },
  phase: "running",
  lastStartNano: 1_795_294_273_100_000_123n,
  health: "healthy",
};

describe("rememberedContainerCodec", () => {
  it("reads back what it wrote, through JSON", () => {
    const json = JSON.parse(JSON.stringify(rememberedContainerCodec.toJson(container)));
    expect(rememberedContainerCodec.fromJson(json)).toEqual(container);
    const plain = { ...container, lastStartNano: undefined, health: null, phase: "created" as const };
    expect(
      rememberedContainerCodec.fromJson(JSON.parse(JSON.stringify(rememberedContainerCodec.toJson(plain)))),
    ).toEqual(plain);
  });

  it("reads anything it cannot use as undefined", () => {
    const good = rememberedContainerCodec.toJson(container) as Record<string, unknown>;
    for (const bad of [
      null,
      "web",
      [],
      { ...good, name: 7 },
      { ...good, phase: "gone" },
      { ...good, labels: { a: 1 } },
      { ...good, labels: null },
      { ...good, last_start_nano: "12e3" },
      { ...good, last_start_nano: 12 },
      { ...good, health: "sick" },
    ]) {
      expect(rememberedContainerCodec.fromJson(bad)).toBeUndefined();
    }
  });
});
