// The worker thread of stats-decoder.ts: decodes batches of stats messages off the main thread,
// which is left with the bus (fetching, acknowledging) and Postgres. It keeps its own copy of
// the container ids the main thread learnt, sent along with the batches.
import { parentPort } from "node:worker_threads";
import type { StatsDecodeRequest, StatsDecodeResponse } from "./stats-decoder.ts";
import { decodeStatsBatch } from "./stats-decoding.ts";

const port = parentPort;
if (!port) throw new Error("stats-decode-worker.ts runs as a worker thread only");

const knownIds = new Map<string, number>();

port.on("message", (request: StatsDecodeRequest) => {
  for (const [key, id] of request.learned) knownIds.set(key, id);
  const decoded = decodeStatsBatch(request.batch, knownIds);
  // The batch's own buffers go back too, for the next batch: no new memory per batch.
  const response: StatsDecodeResponse = { requestId: request.requestId, decoded, spent: request.batch };
  port.postMessage(response, [
    decoded.containerIds.buffer,
    decoded.alertValues.buffer,
    decoded.copyText.buffer,
    decoded.copyEnds.buffer,
    request.batch.bytes.buffer,
    request.batch.ends.buffer,
  ]);
});
// Loaded and listening: the main thread may send batches from now on.
port.postMessage({ ready: true } satisfies StatsDecodeResponse);
