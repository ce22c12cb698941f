// Decodes a batch of stats messages into what the stats writer and the alert engine need,
// without building a JS object per sample on the receiving side: the rows as ready COPY text
// (for the samples whose container id is already known), the alert inputs as numbers, and
// each sample's time. It runs on a worker thread (stats-decode-worker.ts) and, when that is
// unavailable, in-process (stats-decoder.ts); both run exactly this code.
import { Buffer, isAscii } from "node:buffer";
import { codecs, type DecodeFailureReason, isStatsMessage, type StatsMessage } from "@crowsnest/shared/codec";
import { identityKey } from "./container-identity.ts";

/** The container_stats columns of a COPY line, in order. */
export const COPY_COLUMNS = [
  "container_id",
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

export type SampleField = Exclude<(typeof COPY_COLUMNS)[number], "container_id">;
export const SAMPLE_FIELDS = COPY_COLUMNS.slice(1) as readonly SampleField[];

/**
 * A sample's row as COPY text. Every value is a number, null or an RFC 3339 UTC timestamp (as
 * the schema checked), so none needs escaping and the line is ASCII: its length in characters
 * is its length in bytes.
 */
export function copyLine(containerId: number, sample: StatsMessage): string {
  let line = String(containerId);
  for (const field of SAMPLE_FIELDS) {
    const value = sample[field];
    line += value === null ? "\t\\N" : `\t${value}`;
  }
  return `${line}\n`;
}

/** The numbers the alert engine reads of a sample, in this order (NaN for null). */
export const ALERT_FIELDS = [
  "cpu_percent",
  "online_cpus",
  "cpu_limit_cores",
  "mem_used",
  "mem_limit",
] as const;

export interface StatsDecodeFailure {
  index: number;
  reason: DecodeFailureReason;
  detail: string;
}

/** A decoded batch, in transferable form (typed arrays and strings only). Index = the message's position. */
export interface DecodedStatsBatch {
  /** The stored container id; 0 when the decoder did not know it yet (ids start at 1), or the message failed. */
  containerIds: Float64Array<ArrayBuffer>;
  /** The messages that failed to decode; every other message decoded. */
  failures: StatsDecodeFailure[];
  /** The sample's time ("" for a failed message). */
  ts: string[];
  /** ALERT_FIELDS.length numbers per message. */
  alertValues: Float64Array<ArrayBuffer>;
  /** COPY lines of the samples whose container id was known, in message order. */
  copyText: Uint8Array<ArrayBuffer>;
  /** Where each message's line ends in copyText (it starts where the previous one ended; empty: no line). */
  copyEnds: Uint32Array<ArrayBuffer>;
}

/** Messages one after the other in one buffer (one transfer to the worker, one check of the bytes). */
export interface EncodedBatch {
  bytes: Uint8Array<ArrayBuffer>;
  /** Where each message ends in `bytes`. */
  ends: Uint32Array<ArrayBuffer>;
}

export function encodeBatch(messages: readonly Uint8Array[]): EncodedBatch {
  let total = 0;
  for (const message of messages) total += message.length;
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(messages.length);
  let offset = 0;
  messages.forEach((message, index) => {
    bytes.set(message, offset);
    offset += message.length;
    ends[index] = offset;
  });
  return { bytes, ends };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes each message; a message the fast check (isStatsMessage) does not accept is decoded
 * by the contract's codec, which then decides, exactly as it would alone.
 */
export function decodeStatsBatch(
  batch: EncodedBatch,
  knownIds: ReadonlyMap<string, number>,
): DecodedStatsBatch {
  const { bytes, ends } = batch;
  const count = ends.length;
  const containerIds = new Float64Array(count);
  const alertValues = new Float64Array(count * ALERT_FIELDS.length);
  const copyEnds = new Uint32Array(count);
  const ts: string[] = new Array<string>(count);
  const failures: StatsDecodeFailure[] = [];
  // Usually every byte is ASCII: then one string of the whole batch, sliced per message at the
  // same offsets, is what decoding each message as UTF-8 would give, for a fraction of the cost.
  const asciiText = isAscii(bytes)
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")
    : undefined;
  let copyText = "";
  let start = 0;
  for (let index = 0; index < count; index++) {
    const end = ends[index] ?? start;
    const sample = decodeOne(bytes, start, end, asciiText);
    start = end;
    if (!sample.ok) {
      failures.push({ index, reason: sample.reason, detail: sample.detail });
      ts[index] = "";
      copyEnds[index] = copyText.length;
      continue;
    }
    const message = sample.value;
    ts[index] = message.ts;
    for (let field = 0; field < ALERT_FIELDS.length; field++) {
      const value = message[ALERT_FIELDS[field] as (typeof ALERT_FIELDS)[number]];
      alertValues[index * ALERT_FIELDS.length + field] = value ?? Number.NaN;
    }
    const id = knownIds.get(
      identityKey({
        host: message.host,
        runtime: message.runtime,
        external_id: message.container.external_id,
      }),
    );
    if (id !== undefined) {
      containerIds[index] = id;
      copyText += copyLine(id, message);
    }
    copyEnds[index] = copyText.length;
  }
  // ASCII (see copyLine): one byte per character. Not from Buffer's shared pool, so it can be transferred.
  const copyBytes = Buffer.allocUnsafeSlow(copyText.length);
  copyBytes.write(copyText, 0, "latin1");
  return {
    containerIds,
    failures,
    ts,
    alertValues,
    copyText: new Uint8Array(copyBytes.buffer, copyBytes.byteOffset, copyBytes.length),
    copyEnds,
  };
}

function decodeOne(bytes: Uint8Array, start: number, end: number, asciiText: string | undefined) {
  let json: unknown;
  try {
    json = JSON.parse(
      asciiText === undefined ? utf8.decode(bytes.subarray(start, end)) : asciiText.slice(start, end),
    );
  } catch {
    // Not JSON: the codec says so, with its own wording.
    return codecs.stats.decode(bytes.subarray(start, end));
  }
  if (isStatsMessage(json)) return { ok: true as const, value: json };
  return codecs.stats.decode(bytes.subarray(start, end));
}
