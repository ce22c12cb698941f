// The byte scanner against the contract's codec, through the batch decoding that uses it: on
// generated valid messages, on each of them with every field mutated across the schema's
// edges, and on the JSON spellings a scanner could misread (whitespace, key order, escapes,
// exponents, signs, leading zeros, long numbers, duplicate keys, truncation, trailing bytes).
// Whatever the scanner takes must decode to what the codec says, with a COPY line that stores
// the same values as the line built from the codec's message.
import { codecs, type StatsMessage } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { mutated, mutations, validMessage } from "../../../../test/support/stats-message-variants.ts";
import { identityKey } from "./container-identity.ts";
import { ALERT_FIELDS, COPY_COLUMNS } from "./stats-columns.ts";
import { copyLine, decodeStatsBatch, encodeBatch, subjectTail } from "./stats-decoding.ts";
import { ScannedStats, scanStats } from "./stats-scan.ts";

const CONTAINER_ID = 4_200_000_000_017;
const INTEGER_COLUMNS = new Set([
  "container_id",
  "interval_ms",
  "online_cpus",
  "mem_used",
  "mem_limit",
  "net_rx_bytes",
  "net_tx_bytes",
  "blk_read_bytes",
  "blk_write_bytes",
  "pids",
]);
const NUMBER_SPELLINGS = [
  "0",
  "00",
  "01",
  "-0",
  "-1",
  "+1",
  "1.",
  ".5",
  "0.0",
  "1.0",
  "1.50",
  "0.000001",
  "1e3",
  "1E3",
  "1.5e-3",
  "1e400",
  "123456789012345",
  "1234567890123456",
  "9007199254740993",
  "100000000000000000000000000000",
  "1".repeat(40),
  "NaN",
  "nul",
  "null",
  "nulll",
  "true",
  '"1"',
];
const encoder = new TextEncoder();
const text = new TextDecoder();
/** A placeholder for a value spelt by hand, replaced in the JSON text. */
const RAW = "\u0001raw\u0001";

function withRaw(message: StatsMessage, path: string, raw: string): string {
  return JSON.stringify(mutated(message, path, RAW)).replace(JSON.stringify(RAW), raw);
}

function spellings(message: StatsMessage): string[] {
  const canonical = JSON.stringify(message);
  const reordered = JSON.stringify(Object.fromEntries(Object.entries(message).reverse()));
  const out = [
    canonical,
    reordered,
    JSON.stringify(message, null, 2),
    ` \n\t${canonical}\r\n `,
    `${canonical}x`,
    `${canonical}}`,
    canonical.slice(0, -1),
    canonical.slice(0, Math.floor(canonical.length / 2)),
    canonical.replace('"host":"', '"host":"\\u0061'),
    canonical.replace('"name":"', '"name":"\\"'),
    canonical.replace('"external_id":"', '"external_id":"\\/'),
    canonical.replace('"ts":"', '"t\\u0073":"'),
    canonical.replace("}}", '},"x":1}').replace(/}$/, ',"mem_used":5}'),
    canonical.replace(/}$/, ',"mem_used":5}'),
    canonical.replace(/}$/, ',"extra":{"a":[1,2]}}'),
    canonical.replace('"name":', '"image":"x","name":'),
    canonical.replace(/"name":"[^"]*"/, '"name":"a","name":"b"'),
    canonical.replace('{"v":1', '{"v":1.0'),
    canonical.replace('{"v":1', '{"v":1e0'),
    canonical.replace('{"v":1', '{"v":10'),
  ];
  for (const field of ["interval_ms", "cpu_percent", "online_cpus", "cpu_limit_cores", "mem_used", "pids"]) {
    for (const raw of NUMBER_SPELLINGS) out.push(withRaw(message, field, raw));
  }
  return out;
}

/** The values a COPY line stores: integers and text as they are, fractions as the double they parse to. */
function storedValues(line: string): unknown[] {
  const cells = line.replace(/\n$/, "").split("\t");
  expect(cells).toHaveLength(COPY_COLUMNS.length);
  return cells.map((cell, column) => {
    const name = COPY_COLUMNS[column] as string;
    if (cell === "\\N" || name === "ts" || INTEGER_COLUMNS.has(name)) return cell;
    return Number(cell);
  });
}

describe("decoding stats by scanning their bytes", () => {
  it("takes only what the codec accepts, and reads the same values", () => {
    let scanned = 0;
    let declinedValid = 0;
    let invalid = 0;
    const scannedStats = new ScannedStats();
    for (let round = 0; round < 60; round++) {
      const message = validMessage();
      const texts = [
        ...spellings(message),
        ...mutations(message).map(({ path, value }) => JSON.stringify(mutated(message, path, value)) ?? ""),
      ];
      for (const candidate of texts) {
        const bytes = encoder.encode(candidate);
        const expected = codecs.stats.decode(bytes);
        const knownIds = new Map<string, number>();
        if (expected.ok) {
          const { host, runtime, container } = expected.value;
          knownIds.set(identityKey({ host, runtime, external_id: container.external_id }), CONTAINER_ID);
        }
        const decoded = decodeStatsBatch(encodeBatch([bytes]), knownIds);
        // What the store checks the subject against, the same whichever way the message was read.
        expect(decoded.subjectTails[0], candidate).toBe(
          expected.ok
            ? subjectTail(expected.value.host, expected.value.runtime, expected.value.container.name)
            : "",
        );
        const took = scanStats(bytes, 0, bytes.length, Buffer.from(bytes).toString("latin1"), scannedStats);
        if (!expected.ok) {
          invalid += 1;
          expect(took, candidate).toBe(false);
          expect(decoded.failures, candidate).toEqual([
            { index: 0, reason: expected.reason, detail: expected.detail },
          ]);
          continue;
        }
        if (took) scanned += 1;
        else declinedValid += 1;
        const value = expected.value;
        expect(decoded.failures, candidate).toEqual([]);
        expect(decoded.ts, candidate).toEqual([value.ts]);
        expect(decoded.containerIds[0], candidate).toBe(CONTAINER_ID);
        expect([...decoded.alertValues], candidate).toEqual(
          ALERT_FIELDS.map((field) => value[field] ?? Number.NaN),
        );
        expect(storedValues(text.decode(decoded.copyText)), candidate).toEqual(
          storedValues(copyLine(CONTAINER_ID, value)),
        );
      }
    }
    // Every branch was exercised, many times.
    expect(scanned).toBeGreaterThan(1000);
    expect(declinedValid).toBeGreaterThan(500);
    expect(invalid).toBeGreaterThan(10_000);
  }, 60_000);

  it("never reads a message's end from the next message in the batch", () => {
    const message = validMessage();
    const canonical = JSON.stringify(message);
    const cut = canonical.slice(0, -1);
    const withoutLastValue = canonical.slice(0, canonical.lastIndexOf(":") + 1);
    const pairs = [
      [cut, "}"],
      [cut, ', "extra": 1}'],
      [cut, "  }"],
      [withoutLastValue, "null}"],
      [withoutLastValue.replace(/"pids":$/, '"pids":n'), "ull}"],
      [canonical.replace(/"v":1/, '"v":'), "1"],
    ];
    for (const [first, second] of pairs) {
      const batch = [first, second].map((candidate) => encoder.encode(candidate ?? ""));
      const decoded = decodeStatsBatch(encodeBatch(batch), new Map());
      const expected = batch.map((bytes) => codecs.stats.decode(bytes));
      expect(expected.map((result) => result.ok)).toEqual([false, false]);
      expect(
        decoded.failures.map((failure) => failure.index),
        first,
      ).toEqual([0, 1]);
    }
  });

  it("reads the container name for the subject check, escaped or not", () => {
    const message = validMessage();
    const named = (name: string) => ({ ...message, container: { ...message.container, name } });
    const batch = [
      JSON.stringify(named("web.1")),
      JSON.stringify(named("café")),
      JSON.stringify(named("café")).replace("é", "\\u00e9"),
      JSON.stringify(named('say "hi"')),
    ].map((candidate) => encoder.encode(candidate));
    const decoded = decodeStatsBatch(encodeBatch(batch), new Map());
    expect(decoded.failures).toEqual([]);
    expect(decoded.subjectTails).toEqual(
      ["web.1", "café", "café", 'say "hi"'].map((name) => subjectTail(message.host, message.runtime, name)),
    );
  });

  it("writes the lines of scanned and parsed messages, known and unknown containers, in order", () => {
    const message = validMessage();
    const { host, runtime, container } = message;
    const key = identityKey({ host, runtime, external_id: container.external_id });
    const other = { ...message, container: { external_id: "other", name: "other" } };
    const batch = [
      JSON.stringify(message),
      JSON.stringify(message, null, 1),
      JSON.stringify(other),
      "not json",
      JSON.stringify(message),
    ].map((candidate) => encoder.encode(candidate));
    const decoded = decodeStatsBatch(encodeBatch(batch), new Map([[key, 9]]));
    const line = copyLine(9, message);
    expect(text.decode(decoded.copyText)).toBe(line.repeat(3));
    expect([...decoded.copyEnds]).toEqual([1, 2, 2, 2, 3].map((lines) => lines * line.length));
    expect([...decoded.containerIds]).toEqual([9, 9, 0, 0, 9]);
    expect(decoded.failures.map((failure) => failure.index)).toEqual([3]);
  });
});
