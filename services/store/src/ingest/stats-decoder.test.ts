// The stats decoder, on its worker thread and in-process: the same results as the contract's
// codec (values, dead-letter reasons and details), COPY lines only for known containers.
import { codecs, createLogger, type StatsMessage } from "@crowsnest/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import { statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { identityKey } from "./container-identity.ts";
import { type DecodedSample, decodedMessage, StatsDecoder } from "./stats-decoder.ts";
import { copyLine } from "./stats-decoding.ts";

const encoder = new TextEncoder();
const text = new TextDecoder();

function encoded(message: StatsMessage): Uint8Array {
  const result = codecs.stats.encode(message);
  if (!result.ok) throw new Error(result.detail);
  return result.data;
}

const known = statsFixture({ ts: "2026-11-21T10:00:00.000Z", mem_limit: 4096, cpu_limit_cores: 1.5 });
const unknown = statsFixture({
  ts: "2026-11-21T10:00:01.000Z",
  container: { external_id: "d".repeat(64), name: "db" },
  cpu_percent: null,
});
const knownKey = identityKey({
  host: known.host,
  runtime: known.runtime,
  external_id: known.container.external_id,
});
const batch = [
  encoded(known),
  encodeText("{not json"),
  encodeText(JSON.stringify({ ...known, mem_used: -1 })),
  encoded(unknown),
  new Uint8Array([0xff, 0xfe]),
  encoded(known),
];

function encodeText(value: string): Uint8Array {
  return encoder.encode(value);
}

function line(sample: DecodedSample): string | undefined {
  return sample.copyText && text.decode(sample.copyText.subarray(sample.copyStart, sample.copyEnd));
}

describe("StatsDecoder", () => {
  const decoders: StatsDecoder[] = [];
  afterEach(async () => {
    await Promise.all(decoders.splice(0).map((decoder) => decoder.close()));
  });

  function newDecoder() {
    const logger = createLogger({ service: "store", level: "error" });
    const errors = vi.spyOn(logger, "error");
    const decoder = new StatsDecoder({ logger });
    decoders.push(decoder);
    return { decoder, errors };
  }

  for (const where of ["worker thread", "in-process"] as const) {
    it(`decodes like the contract's codec (${where})`, async () => {
      const { decoder, errors } = newDecoder();
      if (where === "in-process") await decoder.close();
      else await vi.waitFor(() => expect(decoder.usesWorker).toBe(true), { timeout: 10_000 });
      decoder.learn([[knownKey, 7]]);
      const results = await decoder.decode(batch);

      expect(results.map((result) => result.ok)).toEqual([true, false, false, true, false, true]);
      // Failures: the codec's own reason and detail.
      for (const index of [1, 2, 4]) {
        const expected = codecs.stats.decode(batch[index] as Uint8Array);
        expect(results[index]).toEqual(expected);
      }
      const [first, , , fourth, , sixth] = results.map((result) => (result.ok ? result.value : undefined));
      if (!first || !fourth || !sixth) throw new Error("expected decoded samples");
      // A known container: its id and its COPY line, as built from the message itself.
      expect(first).toMatchObject({
        containerId: 7,
        ts: known.ts,
        cpu_percent: known.cpu_percent,
        online_cpus: known.online_cpus,
        cpu_limit_cores: 1.5,
        mem_used: known.mem_used,
        mem_limit: 4096,
      });
      expect(line(first)).toBe(copyLine(7, known));
      expect(line(sixth)).toBe(copyLine(7, known));
      // An unknown container: no id, no line; the whole message is still at hand.
      expect(fourth).toMatchObject({ containerId: undefined, copyText: undefined, cpu_percent: null });
      expect(decodedMessage(fourth)).toEqual(unknown);
      expect(errors).not.toHaveBeenCalled();
    });
  }

  it("decodes text that is not ASCII, and a message cut short, like the codec", async () => {
    const { decoder, errors } = newDecoder();
    await vi.waitFor(() => expect(decoder.usesWorker).toBe(true), { timeout: 10_000 });
    decoder.learn([[knownKey, 7]]);
    const accented = { ...known, container: { ...known.container, name: "wéb-😀" } };
    const whole = encoded(accented);
    const results = await decoder.decode([whole, whole.subarray(0, whole.length - 3), encoded(known)]);
    expect(results[1]).toEqual(codecs.stats.decode(whole.subarray(0, whole.length - 3)));
    const [first, , third] = results.map((result) => (result.ok ? result.value : undefined));
    if (!first || !third) throw new Error("expected decoded samples");
    expect(decodedMessage(first)).toEqual(accented);
    expect(line(first)).toBe(copyLine(7, accented));
    expect(line(third)).toBe(copyLine(7, known));
    expect(errors).not.toHaveBeenCalled();
  });

  it("decodes batch after batch in the buffers of earlier ones, larger and smaller", async () => {
    const { decoder, errors } = newDecoder();
    await vi.waitFor(() => expect(decoder.usesWorker).toBe(true), { timeout: 10_000 });
    decoder.learn([[knownKey, 7]]);
    const long = { ...known, container: { ...known.container, name: "n".repeat(400) } };
    const longKey = identityKey({
      host: long.host,
      runtime: long.runtime,
      external_id: long.container.external_id,
    });
    expect(longKey).toBe(knownKey);
    for (const messages of [[long, long, long], [known], [long, known, long, known, long], [known, known]]) {
      const results = await decoder.decode(messages.map(encoded));
      const lines = results.map((result) => (result.ok ? line(result.value) : undefined));
      expect(lines).toEqual(messages.map((message) => copyLine(7, message)));
    }
    expect(errors).not.toHaveBeenCalled();
  });

  it("uses the ids learnt since the previous batch", async () => {
    const { decoder, errors } = newDecoder();
    await vi.waitFor(() => expect(decoder.usesWorker).toBe(true), { timeout: 10_000 });
    const before = await decoder.decode([encoded(known)]);
    decoder.learn([[knownKey, 11]]);
    const after = await decoder.decode([encoded(known)]);
    expect(before[0]?.ok && before[0].value.containerId).toBeUndefined();
    expect(after[0]?.ok && line(after[0].value)).toBe(copyLine(11, known));
    expect(errors).not.toHaveBeenCalled();
  });
});
