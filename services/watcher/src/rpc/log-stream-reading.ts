// The read loop every log reply runs, whatever the runtime opened: chunks from the runtime's
// stream become lines (the assembler), lines become chunks of the reply (the packer), follow mode
// sends what it gathered after a short delay, a stream that breaks midway sends what was read and
// then an error, and otherwise the reply is closed the way the stream ended (LogStreamControl).
// A runtime whose window is coarser than asked (capabilities.exactWindow false) has `since` and
// `until` applied here, by each line's time. The runtime adapts only the lines: how they are
// tagged, and, for a tail it had to read more than, the newest N to keep.
import type { Logger, LogsRequest } from "@crowsnest/shared/agent";
import type { AssembledLine, LogLineAssembler } from "../logs/log-line-assembler.ts";
import type { LogReplySender } from "./log-reply-sender.ts";
import type { LogCapabilities } from "./log-request-handling.ts";
import {
  type LogStreamControl,
  type LogStreamEnd,
  type LogStreamOptions,
  replyChunkPacker,
} from "./log-stream-control.ts";
import { errorReply } from "./rpc-replies.ts";

export interface LogStreamReading {
  /** The runtime's log output; destroyed when the reply ends. */
  source: AsyncIterable<Uint8Array | string> & { destroy(): void };
  assembler: LogLineAssembler;
  control: LogStreamControl;
  sender: LogReplySender;
  request: LogsRequest;
  options: LogStreamOptions;
  log: Logger;
  /** Who was slow when a plain read runs out of time (for the error). */
  slowRuntime: string;
  capabilities: LogCapabilities;
  /** The line as sent (default: as assembled). */
  shape?: (line: AssembledLine) => AssembledLine;
  /** Without follow: only the newest this many lines are sent, once the read ends. */
  keepLast?: number;
  /** Whether the assembler's last partial line is still sent when the stream ended this way. */
  sendsPartialLine?: (ended: LogStreamEnd) => boolean;
  /** The runtime's words for why reading broke. */
  describeError: (error: unknown) => string;
}

export async function readLogStreamIntoReply(reading: LogStreamReading): Promise<void> {
  const { source, assembler, control, sender, request, log } = reading;
  const reshape = reading.shape ?? ((line: AssembledLine) => line);
  const sinceMs = request.since === null ? undefined : Date.parse(request.since);
  const untilMs = request.until === null ? undefined : Date.parse(request.until);
  /** The line as sent, or undefined when it is outside since/until (applied here for a coarse window). */
  const shape = (line: AssembledLine): AssembledLine | undefined => {
    if (!reading.capabilities.exactWindow) {
      const ms = line.ts === null ? undefined : Date.parse(line.ts);
      if (ms !== undefined && sinceMs !== undefined && ms < sinceMs) return undefined;
      if (ms !== undefined && untilMs !== undefined && ms > untilMs) {
        control.end("until_passed");
        return undefined;
      }
    }
    return reshape(line);
  };
  const keepLast = request.follow ? undefined : reading.keepLast;
  control.begin(source, sender, request.follow);
  const packer = replyChunkPacker(reading.options);
  let lines = 0;
  /** With keepLast: the newest lines read so far, sent when the read ends. */
  const lastLines: AssembledLine[] = [];
  const add = async (raw: readonly AssembledLine[]): Promise<void> => {
    for (const rawLine of raw) {
      const line = control.ended === "until_passed" ? undefined : shape(rawLine);
      if (line === undefined) continue;
      lines += 1;
      if (keepLast !== undefined) {
        lastLines.push(line);
        if (lastLines.length > keepLast) lastLines.shift();
        continue;
      }
      for (const full of packer.add(line)) await sender.send(full, false);
    }
  };

  let readError: unknown;
  try {
    for await (const chunk of source) {
      await add(assembler.push(chunk));
      if (request.follow) control.flushSoon(packer, sender);
    }
  } catch (error) {
    // Destroying the stream to end it makes the read fail; that is not an error.
    readError = error;
  } finally {
    control.finishReading();
  }
  for (const line of lastLines) for (const full of packer.add(line)) await sender.send(full, false);
  if (assembler.corrupted) log.warn("log stream was not multiplexed as expected; passed on as stdout");
  if (control.ended === undefined && readError !== undefined) {
    // The runtime went away midway: what was read is sent, then an error ends the reply.
    for (const rawLine of assembler.end()) {
      const line = shape(rawLine);
      if (line !== undefined) for (const full of packer.add(line)) void sender.send(full, false);
    }
    if (packer.pendingLines > 0) void sender.send(packer.take(), false);
    await sender.fail(
      errorReply("runtime_unavailable", `the log stream broke: ${reading.describeError(readError)}`),
    );
    log.warn({ err: readError, lines }, "log stream broke");
    return;
  }
  await control.closeReply({
    sender,
    packer,
    request,
    log,
    slowRuntime: reading.slowRuntime,
    *remaining() {
      if (reading.sendsPartialLine?.(control.ended ?? "stream_ended") === false) return;
      for (const rawLine of assembler.end()) {
        const line = shape(rawLine);
        if (line === undefined) continue;
        lines += 1;
        yield line;
      }
    },
    detail: () => ({ lines }),
  });
}
