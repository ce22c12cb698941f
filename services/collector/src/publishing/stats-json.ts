// The stats message's JSON, written straight into bytes: exactly what
// `Buffer.from(JSON.stringify(message))` gives, without the ~700-character string that
// JSON.stringify makes for every sample (a tenth of what a sample allocated; each allocation
// brings V8's next scavenge nearer). Everything but the numbers and the timestamp is the same for
// a container from one sample to the next, so its JSON up to `"ts":"` is made once per container
// (by JSON.stringify, so its strings are escaped as JSON.stringify escapes them) and copied.
//
// Only a message of exactly the shape buildStatsSample makes is written here (its keys in that
// order, checked for every message, and values isStatsMessage has checked); anything else gets
// undefined and the caller falls back to JSON.stringify. stats-json.test.ts holds the bytes to
// JSON.stringify's on generated messages.
import type { StatsMessage } from "@crowsnest/shared/agent";

/** The message's keys in buildStatsSample's order, `source` (optional, last) not among them. */
const KEYS = [
  "v",
  "host",
  "runtime",
  "container",
  "ts",
  "interval_ms",
  "cpu_percent",
  "online_cpus",
  "cpu_limit_cores",
  "mem_used",
  "mem_limit",
  "net_rx_bytes",
  "net_tx_bytes",
  "net_rx_bytes_per_s",
  "net_tx_bytes_per_s",
  "blk_read_bytes",
  "blk_write_bytes",
  "blk_read_bytes_per_s",
  "blk_write_bytes_per_s",
  "pids",
] as const;

type NumericKey = Exclude<(typeof KEYS)[number], "v" | "host" | "runtime" | "container" | "ts">;

/** The keys after `ts`, all numbers or null, with the bytes written before each value. */
const NUMERIC_FIELDS: readonly { key: NumericKey; prefix: Uint8Array }[] = KEYS.slice(5).map((key) => ({
  key: key as NumericKey,
  prefix: Buffer.from(`,${JSON.stringify(key)}:`, "latin1"),
}));

const NULL = Buffer.from("null", "latin1");
const SOURCE_START = Buffer.from(',"source":', "latin1");
const QUOTE = 0x22;
const CLOSE = 0x7d;
const ZERO = 0x30;

/** Containers whose start of JSON is kept; beyond it the cache starts over. */
const PREFIX_CACHE_MAX = 10_000;

interface Prefix {
  readonly host: string;
  readonly runtime: string;
  readonly name: string;
  /** `{"v":1,…,"container":{…},"ts":"` */
  readonly bytes: Uint8Array;
}

export class StatsJsonWriter {
  /** Reused for every message; what is written is copied out into a buffer of its own. */
  #scratch = Buffer.allocUnsafe(4096);
  readonly #prefixById = new Map<string, Prefix>();
  #lastTs = "";
  #lastTsBytes: Uint8Array = Buffer.alloc(0);

  /**
   * `Buffer.from(JSON.stringify(message))` for a message isStatsMessage accepted; undefined when
   * it is not of buildStatsSample's shape (another key, another order).
   */
  encode(message: StatsMessage): Uint8Array | undefined {
    if (!hasSampleShape(message)) return undefined;
    const prefix = this.#prefix(message);
    const ts = this.#tsBytes(message.ts);
    let source: Uint8Array | undefined;
    if (message.source !== undefined) source = Buffer.from(JSON.stringify(message.source), "utf8");
    // Each number takes at most 25 bytes as text (String() of a double), its key at most 25.
    const most =
      prefix.bytes.length + ts.length + 1 + NUMERIC_FIELDS.length * 50 + 1 + (source?.length ?? 0) + 12;
    if (this.#scratch.length < most) this.#scratch = Buffer.allocUnsafe(most * 2);
    const bytes = this.#scratch;
    bytes.set(prefix.bytes, 0);
    let at = prefix.bytes.length;
    bytes.set(ts, at);
    at += ts.length;
    bytes[at++] = QUOTE;
    for (let index = 0; index < NUMERIC_FIELDS.length; index++) {
      const field = NUMERIC_FIELDS[index] as (typeof NUMERIC_FIELDS)[number];
      bytes.set(field.prefix, at);
      at += field.prefix.length;
      at = writeNumber(bytes, at, message[field.key]);
    }
    if (source !== undefined) {
      bytes.set(SOURCE_START, at);
      at += SOURCE_START.length;
      bytes.set(source, at);
      at += source.length;
    }
    bytes[at++] = CLOSE;
    const payload = Buffer.allocUnsafe(at);
    bytes.copy(payload, 0, 0, at);
    return payload;
  }

  #prefix(message: StatsMessage): Prefix {
    const { host, runtime, container } = message;
    const cached = this.#prefixById.get(container.external_id);
    if (
      cached !== undefined &&
      cached.host === host &&
      cached.runtime === runtime &&
      cached.name === container.name
    ) {
      return cached;
    }
    // Removed containers leave their entries behind: bounded by starting over.
    if (this.#prefixById.size >= PREFIX_CACHE_MAX) this.#prefixById.clear();
    const start = JSON.stringify({ v: message.v, host, runtime, container });
    const prefix: Prefix = {
      host,
      runtime,
      name: container.name,
      // Without the closing brace, then the timestamp's key and opening quote.
      bytes: Buffer.from(`${start.slice(0, -1)},"ts":"`, "utf8"),
    };
    this.#prefixById.set(container.external_id, prefix);
    return prefix;
  }

  /** The timestamp's characters: most samples of a tick share one timestamp (and its string). */
  #tsBytes(ts: string): Uint8Array {
    if (ts !== this.#lastTs) {
      // isStatsMessage held it to the RFC 3339 pattern: ASCII, nothing to escape.
      this.#lastTsBytes = Buffer.from(ts, "latin1");
      this.#lastTs = ts;
    }
    return this.#lastTsBytes;
  }
}

/**
 * Whether the message's own enumerable keys are KEYS in that order, then at most `source`, and
 * its container's exactly `external_id` and `name`: then JSON.stringify writes nothing else.
 */
function hasSampleShape(message: StatsMessage): boolean {
  let index = 0;
  for (const key in message) {
    if (index < KEYS.length) {
      if (key !== KEYS[index]) return false;
    } else if (index > KEYS.length || key !== "source") {
      return false;
    }
    index++;
  }
  if (index < KEYS.length) return false;
  let containerKeys = 0;
  for (const key in message.container) {
    if (containerKeys === 0 ? key !== "external_id" : containerKeys > 1 || key !== "name") return false;
    containerKeys++;
  }
  return containerKeys === 2;
}

/**
 * Writes a number as JSON.stringify does (null for no value): a safe integer digit by digit, any
 * other number through String(), which is the same text for finite numbers.
 */
function writeNumber(bytes: Buffer, at: number, value: number | null): number {
  if (value === null || !Number.isFinite(value)) {
    bytes.set(NULL, at);
    return at + NULL.length;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    const text = String(value);
    for (let index = 0; index < text.length; index++) bytes[at + index] = text.charCodeAt(index);
    return at + text.length;
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  // Below 2^53, rest / 10 rounds to less than the next integer: Math.floor is the exact quotient.
  let rest = value;
  for (let index = at + digits - 1; index >= at; index--) {
    const quotient = Math.floor(rest / 10);
    bytes[index] = ZERO + (rest - quotient * 10);
    rest = quotient;
  }
  return at + digits;
}
