// Reads a stats message straight from its bytes, without building a JS object: the fast path
// of stats-decoding.ts for the messages collectors send (JSON.stringify output: printable ASCII
// strings without escapes, plain decimal numbers). It finds where each value's text lies, checks
// it as the contract's schema would, and the COPY line is then made of those very bytes.
//
// Like the quick check it only ever accepts what the schema accepts, and may decline anything
// else (escapes, bytes outside printable ASCII, exponents, a minus sign, integers of 16 digits
// or more, keys the schema does not name): a declined message goes the general way
// (JSON.parse, the quick check, the zod schema), which decides. So it can be incomplete, never
// more permissive; stats-scan.test.ts compares both ways on valid and mutated messages. A key
// given twice counts with its last value, as in JSON.parse.
//
// The stored values are the same either way: an integer's text is the text JavaScript would
// print for it, and a fraction's text, when not, parses to the same double in Postgres (float8
// input is correctly rounded, like JSON.parse).
import { RUNTIMES } from "@crowsnest/shared";
import { STATS_TIMESTAMP_PATTERN } from "@crowsnest/shared/codec";
import { SAMPLE_FIELDS, type SampleField } from "./stats-columns.ts";

/** How a value is checked: the schema's own rule for that field. */
type ValueRule =
  | "version"
  | "host"
  | "runtime"
  | "container"
  | "timestamp"
  | "source"
  | "positive_int"
  | "non_negative_int"
  | "non_negative"
  | "positive";

const SAMPLE_FIELD_RULES: Record<SampleField, ValueRule> = {
  ts: "timestamp",
  interval_ms: "positive_int",
  cpu_percent: "non_negative",
  online_cpus: "positive_int",
  cpu_limit_cores: "positive",
  mem_used: "non_negative_int",
  mem_limit: "non_negative_int",
  net_rx_bytes: "non_negative_int",
  net_tx_bytes: "non_negative_int",
  net_rx_bytes_per_s: "non_negative",
  net_tx_bytes_per_s: "non_negative",
  blk_read_bytes: "non_negative_int",
  blk_write_bytes: "non_negative_int",
  blk_read_bytes_per_s: "non_negative",
  blk_write_bytes_per_s: "non_negative",
  pids: "non_negative_int",
};

/**
 * The top-level keys: the sample fields first (so a field's slot is its position in
 * SAMPLE_FIELDS), then the others. `source` is the only optional one.
 */
const TOP_KEYS: readonly string[] = [...SAMPLE_FIELDS, "v", "host", "runtime", "container", "source"];
const TOP_RULES: readonly ValueRule[] = [
  ...SAMPLE_FIELDS.map((field) => SAMPLE_FIELD_RULES[field]),
  "version",
  "host",
  "runtime",
  "container",
  "source",
];
export const HOST_SLOT = TOP_KEYS.indexOf("host");
export const RUNTIME_SLOT = TOP_KEYS.indexOf("runtime");
const SLOT_SOURCE = TOP_KEYS.indexOf("source");
/** Every top-level key but `source` must be there. */
const REQUIRED_TOP = (2 ** TOP_KEYS.length - 1) & ~(1 << SLOT_SOURCE);

const CONTAINER_KEYS: readonly string[] = ["external_id", "name"];
const BOTH_CONTAINER_KEYS = 0b11;

const encodeKeys = (keys: readonly string[]) =>
  keys.map((key) => Uint8Array.from(key, (c) => c.charCodeAt(0)));
const TOP_KEY_BYTES = encodeKeys(TOP_KEYS);
const CONTAINER_KEY_BYTES = encodeKeys(CONTAINER_KEYS);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const LETTER_N = 0x6e;

/** Longest integer text taken as it is: 15 digits are always a safe integer. */
const MAX_INT_DIGITS = 15;
/** Longest fraction text taken as it is: always finite, well inside Postgres' float8 input. */
const MAX_NUMBER_LENGTH = 32;

/**
 * Where a scanned message's values lie in the batch's bytes. Reused from message to message
 * (the scan allocates nothing); valid until the next scan.
 */
export class ScannedStats {
  /**
   * Per slot (a sample field's slot is its index in SAMPLE_FIELDS; then HOST_SLOT, RUNTIME_SLOT
   * and the others): the value's text is bytes[start, end), a string's without its quotes.
   * A null value: start = -1.
   */
  readonly start = new Int32Array(TOP_KEYS.length);
  readonly end = new Int32Array(TOP_KEYS.length);
  externalIdStart = 0;
  externalIdEnd = 0;
  /** The container name's text, without its quotes (JSON escapes not undone). */
  nameStart = 0;
  nameEnd = 0;
}

/**
 * Scans `bytes[start, end)` as one stats message. True: every value is where `into` says and
 * the schema accepts the message; false: not taken this way (which says nothing about validity).
 * `text` is the same bytes as latin1 (one character per byte), for the values read as strings.
 */
export function scanStats(
  bytes: Uint8Array,
  start: number,
  end: number,
  text: string,
  into: ScannedStats,
): boolean {
  let pos = skipSpace(bytes, start, end);
  if (bytes[pos] !== OPEN_BRACE) return false;
  let seen = 0;
  let expected = 0;
  for (;;) {
    pos = skipSpace(bytes, pos + 1, end);
    const keyEnd = stringEnd(bytes, pos, end);
    if (keyEnd < 0) return false;
    const slot = keySlot(bytes, pos + 1, keyEnd, TOP_KEY_BYTES, expected);
    if (slot < 0) return false;
    seen |= 1 << slot;
    expected = slot + 1;
    pos = skipSpace(bytes, keyEnd + 1, end);
    if (bytes[pos] !== COLON) return false;
    pos = skipSpace(bytes, pos + 1, end);
    const rule = TOP_RULES[slot] as ValueRule;
    if (rule === "container") pos = scanContainer(bytes, pos, end, into);
    else pos = scanValue(bytes, pos, end, text, rule, slot, into);
    if (pos < 0) return false;
    pos = skipSpace(bytes, pos, end);
    if (bytes[pos] === COMMA) continue;
    if (bytes[pos] !== CLOSE_BRACE) return false;
    break;
  }
  if ((seen & REQUIRED_TOP) !== REQUIRED_TOP) return false;
  return skipSpace(bytes, pos + 1, end) === end;
}

/** The `container` object; returns the position after it, or -1. */
function scanContainer(bytes: Uint8Array, from: number, end: number, into: ScannedStats): number {
  if (bytes[from] !== OPEN_BRACE) return -1;
  let pos = from;
  let seen = 0;
  for (;;) {
    pos = skipSpace(bytes, pos + 1, end);
    const keyEnd = stringEnd(bytes, pos, end);
    if (keyEnd < 0) return -1;
    const slot = keySlot(bytes, pos + 1, keyEnd, CONTAINER_KEY_BYTES, seen === 0 ? 0 : 1);
    if (slot < 0) return -1;
    seen |= 1 << slot;
    pos = skipSpace(bytes, keyEnd + 1, end);
    if (bytes[pos] !== COLON) return -1;
    pos = skipSpace(bytes, pos + 1, end);
    const valueEnd = stringEnd(bytes, pos, end);
    if (valueEnd < 0) return -1;
    const length = valueEnd - pos - 1;
    if (slot === 0) {
      if (length < 1 || length > 512) return -1;
      into.externalIdStart = pos + 1;
      into.externalIdEnd = valueEnd;
    } else {
      if (length > 512) return -1;
      into.nameStart = pos + 1;
      into.nameEnd = valueEnd;
    }
    pos = skipSpace(bytes, valueEnd + 1, end);
    if (bytes[pos] === COMMA) continue;
    if (bytes[pos] !== CLOSE_BRACE || seen !== BOTH_CONTAINER_KEYS) return -1;
    return pos + 1;
  }
}

/** A value other than the container; records where it lies; returns the position after it, or -1. */
function scanValue(
  bytes: Uint8Array,
  pos: number,
  end: number,
  text: string,
  rule: ValueRule,
  slot: number,
  into: ScannedStats,
): number {
  switch (rule) {
    case "host":
    case "runtime":
    case "timestamp":
    case "source": {
      const valueEnd = stringEnd(bytes, pos, end);
      if (valueEnd < 0) return -1;
      into.start[slot] = pos + 1;
      into.end[slot] = valueEnd;
      if (!stringAccepted(text, pos + 1, valueEnd, rule)) return -1;
      return valueEnd + 1;
    }
    case "version":
      // Only `1` (the schema's literal); `1.0` and such go the general way.
      // (What follows must end the value: the caller checks that, so `10` is declined too.)
      return bytes[pos] === ZERO + 1 ? pos + 1 : -1;
    default: {
      if (bytes[pos] === LETTER_N) {
        if (bytes[pos + 1] !== 0x75 || bytes[pos + 2] !== 0x6c || bytes[pos + 3] !== 0x6c) return -1;
        into.start[slot] = -1;
        return pos + 4;
      }
      const numberEnd = plainNumberEnd(bytes, pos, end, rule);
      if (numberEnd < 0) return -1;
      into.start[slot] = pos;
      into.end[slot] = numberEnd;
      return numberEnd;
    }
  }
}

function stringAccepted(text: string, start: number, end: number, rule: ValueRule): boolean {
  const length = end - start;
  switch (rule) {
    case "host":
      return length >= 1 && length <= 253;
    case "runtime":
      return RUNTIMES.some((name) => isText(text, start, end, name));
    case "source":
      return isText(text, start, end, "kubelet_summary") || isText(text, start, end, "metrics_api");
    default:
      return STATS_TIMESTAMP_PATTERN.test(text.slice(start, end));
  }
}

function isText(text: string, start: number, end: number, expected: string): boolean {
  return end - start === expected.length && text.startsWith(expected, start);
}

/**
 * The end of a plain decimal number at `pos` that the rule accepts: digits without a needless
 * leading zero, a fraction only where the field is not an integer, no sign, no exponent (else
 * -1). Whatever follows must end the value (an exponent, say), which the caller checks.
 */
function plainNumberEnd(bytes: Uint8Array, pos: number, end: number, rule: ValueRule): number {
  const integer = rule === "positive_int" || rule === "non_negative_int";
  let at = pos;
  let nonZero = false;
  while (at < end && isDigit(bytes[at])) {
    if (bytes[at] !== ZERO) nonZero = true;
    at++;
  }
  const digits = at - pos;
  if (digits === 0 || (digits > 1 && bytes[pos] === ZERO)) return -1;
  if (integer) {
    if (digits > MAX_INT_DIGITS) return -1;
  } else if (bytes[at] === DOT) {
    const fractionStart = ++at;
    while (at < end && isDigit(bytes[at])) {
      if (bytes[at] !== ZERO) nonZero = true;
      at++;
    }
    if (at === fractionStart) return -1;
  }
  if (at - pos > MAX_NUMBER_LENGTH) return -1;
  if ((rule === "positive_int" || rule === "positive") && !nonZero) return -1;
  return at;
}

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= ZERO && byte <= NINE;
}

function skipSpace(bytes: Uint8Array, from: number, end: number): number {
  let pos = from;
  while (pos < end) {
    const byte = bytes[pos];
    if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) break;
    pos++;
  }
  return pos;
}

/**
 * For a string at `pos` of printable ASCII without escapes: the position of its closing quote.
 * Anything else (or no string): -1.
 */
function stringEnd(bytes: Uint8Array, pos: number, end: number): number {
  if (bytes[pos] !== QUOTE) return -1;
  for (let at = pos + 1; at < end; at++) {
    const byte = bytes[at] as number;
    if (byte === QUOTE) return at;
    if (byte < 0x20 || byte > 0x7e || byte === BACKSLASH) return -1;
  }
  return -1;
}

/** Which of `keys` the bytes spell (tried first: `expected`, the usual next one); -1: none. */
function keySlot(
  bytes: Uint8Array,
  start: number,
  end: number,
  keys: readonly Uint8Array[],
  expected: number,
) {
  if (expected < keys.length && spells(bytes, start, end, keys[expected] as Uint8Array)) return expected;
  for (let slot = 0; slot < keys.length; slot++) {
    if (spells(bytes, start, end, keys[slot] as Uint8Array)) return slot;
  }
  return -1;
}

function spells(bytes: Uint8Array, start: number, end: number, key: Uint8Array): boolean {
  if (end - start !== key.length) return false;
  for (let index = 0; index < key.length; index++) {
    if (bytes[start + index] !== key[index]) return false;
  }
  return true;
}
