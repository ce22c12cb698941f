// Decodes stats batches on a worker thread. The store's main thread is its busiest part during
// ingest (the bus client, fetching and acknowledging, and the Postgres client); parsing,
// checking and turning samples into COPY text is the biggest share of the rest, and needs
// nothing but the bytes, so it moves to a second thread. The main thread only copies each
// batch's bytes into one buffer and gets back typed arrays and the COPY text.
//
// The worker knows the container ids the stats writer learnt (`learn`); a sample of a
// container it did not know yet gets its COPY line from the writer instead.
//
// Until the worker has loaded (a few hundred ms at start), and if it fails (it should not),
// batches are decoded in-process by the same code: the batches a failed worker held, too, and a
// new worker is started a minute later; a failure is logged. Nothing is lost and the results
// are the same.
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { DecodeResult, Logger, StatsMessage } from "@crowsnest/shared";
import type { AlertSample } from "../alerts/alert-rules.ts";
import { ALERT_FIELDS } from "./stats-columns.ts";
import {
  type DecodedStatsBatch,
  decodeStatsBatch,
  type EncodedBatch,
  encodeBatch,
} from "./stats-decoding.ts";

export interface StatsDecodeRequest {
  requestId: number;
  batch: EncodedBatch;
  /** Container ids learnt since the previous request: [identityKey, id]. */
  learned: [string, number][];
}

/** What the worker posts: once that it is ready, then one response per request. */
export type StatsDecodeResponse =
  | { ready: true }
  | {
      requestId: number;
      decoded: DecodedStatsBatch;
      /** The request's batch, its buffers handed back to be filled with a later batch. */
      spent: EncodedBatch;
    };

/** A decoded sample: what the alert engine reads, and what the stats writer needs to store it. */
export interface DecodedSample extends AlertSample {
  /** The stored container id, when the decoder knew it. */
  containerId: number | undefined;
  /** The sample's COPY line is `copyText[copyStart, copyEnd)` (shared by its batch), when its id was known. */
  copyText: Uint8Array | undefined;
  copyStart: number;
  copyEnd: number;
  /** The message bytes as received (for the writer's rarer paths, which need every field). */
  data: Uint8Array;
  /** `<host>.<runtime>.<container name>` as subject tokens (see subject-guard.ts). */
  subjectTail: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The whole message of a decoded sample. It was checked against the schema already. */
export function decodedMessage(sample: DecodedSample): StatsMessage {
  return JSON.parse(utf8.decode(sample.data)) as StatsMessage;
}

// The worker module next to this one, with this module's extension: `.ts` when run from
// source, `.js` once compiled.
const MODULE_EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./stats-decode-worker${MODULE_EXTENSION}`, import.meta.url);
// Run from source, the worker needs the shared package's sources too: the condition main.ts
// is started with (a worker inherits it), which a test runner's process does not have.
const SOURCE_CONDITION = "--conditions=crowsnest-source";
const WORKER_EXEC_ARGV =
  MODULE_EXTENSION === ".ts" && !process.execArgv.includes(SOURCE_CONDITION)
    ? [...process.execArgv, SOURCE_CONDITION]
    : process.execArgv;

/** Batches decoding at once: the one being filled and the one the worker has (see BatchConsumer). */
const MAX_SPENT_BATCHES = 2;

/** After a worker failed, the next one is started no sooner than this (no restart loop). */
const WORKER_RESTART_DELAY_MS = 60_000;

interface Pending {
  messages: readonly Uint8Array[];
  resolve: (decoded: DecodedStatsBatch) => void;
}

export class StatsDecoder {
  readonly #logger: Logger;
  /** Every id learnt; a new worker is told all of them. */
  readonly #knownIds = new Map<string, number>();
  #learnedSinceLastRequest: [string, number][] = [];
  #worker: Worker | undefined;
  /** Until the worker has loaded its code (a few hundred ms at start), batches are decoded here. */
  #workerReady = false;
  readonly #pending = new Map<number, Pending>();
  #nextRequestId = 1;
  #closed = false;
  #nextStartAtMs = 0;
  /**
   * Buffers of batches the worker decoded, filled again with the next batches: memory outside
   * V8's heap, allocated for every batch, would count as pressure towards full collections.
   */
  readonly #spentBatches: EncodedBatch[] = [];

  constructor(options: { logger: Logger }) {
    this.#logger = options.logger;
    this.#worker = this.#startWorker();
  }

  /** Whether batches go to the worker thread now (false while it starts, or after close). */
  get usesWorker(): boolean {
    return this.#worker !== undefined && this.#workerReady;
  }

  /** Container ids the writer resolved, for the decoding of the next batches. */
  learn(entries: Iterable<[string, number]>): void {
    for (const entry of entries) {
      if (this.#knownIds.has(entry[0])) continue;
      this.#knownIds.set(entry[0], entry[1]);
      this.#learnedSinceLastRequest.push(entry);
    }
  }

  async decode(messages: readonly Uint8Array[]): Promise<DecodeResult<DecodedSample>[]> {
    const decoded = await this.#decodeBatch(messages);
    return toResults(messages, decoded);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
    this.#decodeHeldInProcess();
  }

  #decodeBatch(messages: readonly Uint8Array[]): Promise<DecodedStatsBatch> {
    if (!this.#worker && !this.#closed && Date.now() >= this.#nextStartAtMs)
      this.#worker = this.#startWorker();
    const worker = this.#worker;
    const batch = encodeBatch(messages, this.#spentBatches.pop());
    if (!worker || !this.usesWorker) return Promise.resolve(decodeStatsBatch(batch, this.#knownIds));
    const requestId = this.#nextRequestId++;
    const request: StatsDecodeRequest = { requestId, batch, learned: this.#learnedSinceLastRequest };
    this.#learnedSinceLastRequest = [];
    return new Promise((resolve) => {
      this.#pending.set(requestId, { messages, resolve });
      worker.postMessage(request, [batch.bytes.buffer, batch.ends.buffer]);
    });
  }

  #startWorker(): Worker {
    // A new worker starts from every id known so far.
    this.#learnedSinceLastRequest = [...this.#knownIds];
    this.#workerReady = false;
    const worker = new Worker(WORKER_URL, { execArgv: WORKER_EXEC_ARGV });
    // Never what keeps the process alive: the consumers are.
    worker.unref();
    worker.on("message", (response: StatsDecodeResponse) => {
      if ("ready" in response) {
        this.#workerReady = this.#worker === worker;
        return;
      }
      if (this.#spentBatches.length < MAX_SPENT_BATCHES) this.#spentBatches.push(response.spent);
      const pending = this.#pending.get(response.requestId);
      this.#pending.delete(response.requestId);
      pending?.resolve(response.decoded);
    });
    const failed = (error: unknown) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#nextStartAtMs = Date.now() + WORKER_RESTART_DELAY_MS;
      if (!this.#closed) {
        this.#logger.error(
          { err: error, batches: this.#pending.size },
          "stats decoding worker failed; decoding in-process until a new one runs",
        );
      }
      void worker.terminate();
      this.#decodeHeldInProcess();
    };
    worker.on("error", failed);
    worker.on("exit", (code) => failed(new Error(`worker exited with code ${code}`)));
    return worker;
  }

  /** The batches a worker held when it ended, decoded here from the messages themselves. */
  #decodeHeldInProcess(): void {
    for (const pending of this.#pending.values()) {
      pending.resolve(decodeStatsBatch(encodeBatch(pending.messages), this.#knownIds));
    }
    this.#pending.clear();
  }
}

function toResults(
  messages: readonly Uint8Array[],
  decoded: DecodedStatsBatch,
): DecodeResult<DecodedSample>[] {
  const results: DecodeResult<DecodedSample>[] = new Array(messages.length);
  for (const failure of decoded.failures) {
    results[failure.index] = { ok: false, reason: failure.reason, detail: failure.detail };
  }
  const values = decoded.alertValues;
  const width = ALERT_FIELDS.length;
  let copyStart = 0;
  for (let index = 0; index < messages.length; index++) {
    const copyEnd = decoded.copyEnds[index] ?? copyStart;
    if (results[index] === undefined) {
      const id = decoded.containerIds[index] ?? 0;
      const at = index * width;
      results[index] = {
        ok: true,
        value: {
          ts: decoded.ts[index] ?? "",
          cpu_percent: orNull(values[at]),
          online_cpus: orNull(values[at + 1]),
          cpu_limit_cores: orNull(values[at + 2]),
          mem_used: orNull(values[at + 3]),
          mem_limit: orNull(values[at + 4]),
          containerId: id === 0 ? undefined : id,
          copyText: copyEnd > copyStart ? decoded.copyText : undefined,
          copyStart,
          copyEnd,
          data: messages[index] ?? new Uint8Array(),
          subjectTail: decoded.subjectTails[index] ?? "",
        },
      };
    }
    copyStart = copyEnd;
  }
  return results;
}

function orNull(value: number | undefined): number | null {
  return value === undefined || Number.isNaN(value) ? null : value;
}
