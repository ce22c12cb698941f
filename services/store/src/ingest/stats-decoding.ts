// Decodes a batch of stats messages into what the stats writer and the alert engine need,
// without building a JS object per sample on the receiving side: the rows as ready COPY text
// (for the samples whose container id is already known), the alert inputs as numbers, and
// each sample's time. It runs on a worker thread (stats-decode-worker.ts) and, when that is
// unavailable, in-process (stats-decoder.ts); both run exactly this code.
import { Buffer, isAscii } from "node:buffer";
import {
  codecs,
  type DecodeFailureReason,
  encodeSubjectToken,
  isStatsMessage,
  type StatsMessage,
} from "@crowsnest/shared/codec";
import { identityKey } from "./container-identity.ts";
import { ALERT_FIELDS, SAMPLE_FIELDS } from "./stats-columns.ts";
import { HOST_SLOT, RUNTIME_SLOT, ScannedStats, scanStats } from "./stats-scan.ts";

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
  /**
   * `<host>.<runtime>.<container name>` as subject tokens ("" for a failed message): what the
   * subject must end with, so the store can refuse a sample published under another's subject.
   */
  subjectTails: string[];
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

/**
 * The messages one after the other in one buffer; in `reuse`'s buffers when they are large
 * enough (a batch's buffers come back from the worker: see stats-decoder.ts).
 */
export function encodeBatch(messages: readonly Uint8Array[], reuse?: EncodedBatch): EncodedBatch {
  let total = 0;
  for (const message of messages) total += message.length;
  const bytes =
    reuse && reuse.bytes.buffer.byteLength >= total
      ? new Uint8Array(reuse.bytes.buffer, 0, total)
      : new Uint8Array(total);
  const ends =
    reuse && reuse.ends.buffer.byteLength >= messages.length * Uint32Array.BYTES_PER_ELEMENT
      ? new Uint32Array(reuse.ends.buffer, 0, messages.length)
      : new Uint32Array(messages.length);
  let offset = 0;
  messages.forEach((message, index) => {
    bytes.set(message, offset);
    offset += message.length;
    ends[index] = offset;
  });
  return { bytes, ends };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The subject's last three tokens for a sample of this host, runtime and container. */
export function subjectTail(host: string, runtime: string, containerName: string): string {
  return `${encodeSubjectToken(host)}.${encodeSubjectToken(runtime)}.${encodeSubjectToken(containerName)}`;
}

const BACKSLASH = 0x5c;

/** A scanned JSON string's value: its latin1 text when plain ASCII without escapes (the usual case). */
function scannedString(bytes: Uint8Array, latin1: string, start: number, end: number): string {
  for (let at = start; at < end; at++) {
    const byte = bytes[at] as number;
    if (byte >= 0x80 || byte === BACKSLASH) return JSON.parse(`"${utf8.decode(bytes.subarray(start, end))}"`);
  }
  return latin1.slice(start, end);
}

const TS_SLOT = SAMPLE_FIELDS.indexOf("ts");
/** Where each alert field is among the sample fields (the scanner's slots). */
const ALERT_SLOTS = ALERT_FIELDS.map((field) => SAMPLE_FIELDS.indexOf(field));
/** Most bytes a scanned message's COPY line adds to its message's own: see CopyTextBuilder. */
const SCANNED_LINE_OVERHEAD = 16 + SAMPLE_FIELDS.length * 3 + 1;

/**
 * Decodes each message. Most are scanned straight from their bytes (stats-scan.ts), their COPY
 * line copied from them; a message the scanner declines is parsed, checked by the fast check
 * (isStatsMessage), and if that does not accept it decoded by the contract's codec, which then
 * decides, exactly as it would alone.
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
  const subjectTails: string[] = new Array<string>(count);
  const failures: StatsDecodeFailure[] = [];
  // One character per byte, at the same offsets: the scanner reads its (ASCII) strings from it,
  // and when every byte is ASCII it is also what decoding each message as UTF-8 would give.
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  // Whether it is: asked only when a message is not scanned (rare), then kept for the batch.
  let ascii: boolean | undefined;
  const copy = new CopyTextBuilder(bytes.length + count * SCANNED_LINE_OVERHEAD);
  const scanned = new ScannedStats();
  let start = 0;
  for (let index = 0; index < count; index++) {
    const end = ends[index] ?? start;
    if (scanStats(bytes, start, end, latin1, scanned)) {
      ts[index] = latin1.slice(scanned.start[TS_SLOT], scanned.end[TS_SLOT]);
      subjectTails[index] = subjectTail(
        latin1.slice(scanned.start[HOST_SLOT], scanned.end[HOST_SLOT]),
        latin1.slice(scanned.start[RUNTIME_SLOT], scanned.end[RUNTIME_SLOT]),
        scannedString(bytes, latin1, scanned.nameStart, scanned.nameEnd),
      );
      for (let field = 0; field < ALERT_SLOTS.length; field++) {
        alertValues[index * ALERT_FIELDS.length + field] = scannedNumber(
          bytes,
          latin1,
          scanned,
          ALERT_SLOTS[field] as number,
        );
      }
      const id = knownIds.get(
        identityKey({
          host: latin1.slice(scanned.start[HOST_SLOT], scanned.end[HOST_SLOT]),
          runtime: latin1.slice(scanned.start[RUNTIME_SLOT], scanned.end[RUNTIME_SLOT]),
          external_id: latin1.slice(scanned.externalIdStart, scanned.externalIdEnd),
        }),
      );
      if (id !== undefined) {
        containerIds[index] = id;
        copy.scannedLine(id, bytes, scanned);
      }
    } else {
      ascii ??= isAscii(bytes);
      const sample = decodeOne(bytes, start, end, ascii ? latin1 : undefined);
      if (!sample.ok) {
        failures.push({ index, reason: sample.reason, detail: sample.detail });
        ts[index] = "";
        subjectTails[index] = "";
      } else {
        const message = sample.value;
        ts[index] = message.ts;
        subjectTails[index] = subjectTail(message.host, message.runtime, message.container.name);
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
          copy.text(copyLine(id, message));
        }
      }
    }
    copyEnds[index] = copy.length;
    start = end;
  }
  return { containerIds, failures, ts, subjectTails, alertValues, copyText: copy.bytes(), copyEnds };
}

/** A scanned sample field's number (NaN for null); its text is a plain decimal (stats-scan.ts). */
function scannedNumber(bytes: Uint8Array, text: string, scanned: ScannedStats, slot: number): number {
  const start = scanned.start[slot] as number;
  if (start < 0) return Number.NaN;
  const end = scanned.end[slot] as number;
  // An integer of at most 15 digits, exactly; anything with a fraction as JSON.parse reads it.
  let value = 0;
  for (let at = start; at < end; at++) {
    const digit = (bytes[at] as number) - 0x30;
    if (digit < 0 || digit > 9) return Number(text.slice(start, end));
    value = value * 10 + digit;
  }
  return value;
}

/**
 * The batch's COPY text, written as bytes into one buffer. A scanned message's line is its id
 * (at most 16 digits), then per field a tab and the value's text (a part of the message, so all
 * of them together at most its length) or `\N`, then a newline: at most SCANNED_LINE_OVERHEAD
 * bytes more than the message, which the first capacity allows for. Lines built as text (from
 * parsed messages) may be longer, and grow it.
 *
 * Lines are written into one scratch buffer kept from batch to batch (decoding is synchronous),
 * and the batch's text is copied out at the end, at its size: a new buffer of the largest size a
 * batch could need, for every batch, would be memory outside V8's heap that it counts as
 * pressure towards a full garbage collection, three or four times what the text needs.
 */
let scratch = new Uint8Array(0);

class CopyTextBuilder {
  #buffer: Uint8Array<ArrayBuffer>;
  length = 0;

  constructor(capacity: number) {
    if (scratch.length < capacity) scratch = new Uint8Array(capacity);
    this.#buffer = scratch;
  }

  scannedLine(id: number, bytes: Uint8Array, scanned: ScannedStats): void {
    const buffer = this.#buffer;
    let at = writeDigits(buffer, this.length, id);
    for (let slot = 0; slot < SAMPLE_FIELDS.length; slot++) {
      buffer[at++] = 0x09;
      const start = scanned.start[slot] as number;
      if (start < 0) {
        buffer[at++] = 0x5c;
        buffer[at++] = 0x4e;
        continue;
      }
      const end = scanned.end[slot] as number;
      for (let from = start; from < end; from++) buffer[at++] = bytes[from] as number;
    }
    buffer[at++] = 0x0a;
    this.length = at;
  }

  /** An ASCII line (copyLine's). */
  text(line: string): void {
    if (this.length + line.length > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.length + line.length));
      grown.set(this.#buffer.subarray(0, this.length));
      this.#buffer = grown;
      scratch = grown;
    }
    for (let index = 0; index < line.length; index++) this.#buffer[this.length++] = line.charCodeAt(index);
  }

  /** The text so far, in a buffer of its own (transferable). */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#buffer.slice(0, this.length);
  }
}

/** Writes a non-negative integer's decimal digits at `at`; returns the position after them. */
function writeDigits(buffer: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let power = 10; power <= value; power *= 10) digits++;
  let rest = value;
  for (let place = at + digits - 1; place >= at; place--) {
    buffer[place] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return at + digits;
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
