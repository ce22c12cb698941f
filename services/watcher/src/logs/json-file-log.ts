// Reading a container's log file in Docker's json-file format, one JSON record per line:
// `{"log":"text\n","stream":"stdout","time":"2026-12-05T18:00:00.123456789Z"}`. nerdctl writes
// its containers' logs this way. A record whose text has no trailing newline is part of a
// longer line (the writer splits lines at 16 KiB), joined with the next record of its stream.

import { watch } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { AssembledLine, LogLineAssembler, LogStreamTag } from "./log-line-assembler.ts";
import { parseDockerLogTimestamp } from "./log-line-assembler.ts";

export interface JsonFileAssemblerOptions {
  /** Only this stream's lines; `both`: every line. */
  stream: "stdout" | "stderr" | "both";
  /** A line longer than this many characters is handed on in pieces of this size. */
  maxLineChars: number;
}

/** Records that are not JSON, or not a log record, are skipped (a file cut mid-record, say). */
export function createJsonFileAssembler(options: JsonFileAssemblerOptions): LogLineAssembler & {
  readonly skipped: number;
} {
  const decoder = new TextDecoder();
  let carry = "";
  let skipped = 0;
  const pending = new Map<LogStreamTag, { text: string; ts: string | null }>();

  const take = (record: string, out: AssembledLine[]): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(record);
    } catch {
      skipped += 1;
      return;
    }
    const { log, stream, time } = (parsed ?? {}) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof log !== "string" || (stream !== "stdout" && stream !== "stderr")) {
      skipped += 1;
      return;
    }
    if (options.stream !== "both" && stream !== options.stream) return;
    const ts = typeof time === "string" ? (parseDockerLogTimestamp(time) ?? null) : null;
    const open = pending.get(stream);
    const complete = log.endsWith("\n");
    let text = (open?.text ?? "") + (complete ? log.slice(0, -1) : log);
    const lineTs = open?.ts ?? ts;
    while (text.length > options.maxLineChars) {
      out.push({ stream, ts: lineTs, text: text.slice(0, options.maxLineChars) });
      text = text.slice(options.maxLineChars);
    }
    if (complete) {
      pending.delete(stream);
      out.push({ stream, ts: lineTs, text });
    } else {
      pending.set(stream, { text, ts: lineTs });
    }
  };

  return {
    push(chunk) {
      const out: AssembledLine[] = [];
      const records = (
        carry + (typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }))
      ).split("\n");
      carry = records.pop() ?? "";
      for (const record of records) if (record.trim() !== "") take(record, out);
      return out;
    },
    end() {
      const out: AssembledLine[] = [];
      if (carry.trim() !== "") take(carry, out);
      carry = "";
      for (const [stream, open] of pending)
        if (open.text !== "") out.push({ stream, ts: open.ts, text: open.text });
      pending.clear();
      return out;
    },
    corrupted: false,
    get skipped() {
      return skipped;
    },
  };
}

/**
 * Where to start reading for the last `records` records: reads backwards from the end a block at
 * a time until it has passed that many newlines. 0 for a file with fewer.
 */
export async function offsetOfLastRecords(path: string, records: number): Promise<number> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const block = Buffer.alloc(64 * 1024);
    let position = size;
    // The file's last byte is the newline ending its last record: it does not start one.
    let newlines = -1;
    while (position > 0) {
      const length = Math.min(block.length, position);
      position -= length;
      await handle.read(block, 0, length, position);
      for (let index = length - 1; index >= 0; index--) {
        if (block[index] !== 0x0a) continue;
        newlines += 1;
        if (newlines === records) return position + index + 1;
      }
    }
    return 0;
  } finally {
    await handle.close();
  }
}

export interface FileReadOptions {
  /** Byte offset to start at. */
  start: number;
  /** Keep reading what is appended until destroyed; else end at the end of the file. */
  follow: boolean;
  /** With follow: how often the file is looked at besides the change notifications (rotation, missed ones). */
  pollMs?: number;
}

/**
 * The file's bytes from `start`; with follow, then what is written to it, also across a rotation
 * (a new file under the same name is read from its beginning). Destroying it ends the iteration.
 */
export function readFileChunks(
  path: string,
  options: FileReadOptions,
): AsyncIterable<Uint8Array> & {
  destroy(): void;
} {
  const stopped = new AbortController();
  let wake = (): void => undefined;
  const pollMs = options.pollMs ?? 1000;
  return {
    destroy() {
      stopped.abort();
      wake();
    },
    async *[Symbol.asyncIterator]() {
      let handle = await open(path, "r");
      let inode = (await handle.stat()).ino;
      let position = options.start;
      const watcher = options.follow ? watch(path, { persistent: false }, () => wake()) : undefined;
      const block = Buffer.alloc(64 * 1024);
      try {
        while (!stopped.signal.aborted) {
          const { bytesRead } = await handle.read(block, 0, block.length, position);
          if (bytesRead > 0) {
            position += bytesRead;
            yield Uint8Array.from(block.subarray(0, bytesRead));
            continue;
          }
          if (!options.follow) return;
          // Rotated (renamed away and a new file made) or truncated: read the file there now.
          const current = await stat(path).catch(() => undefined);
          if (current !== undefined && (current.ino !== inode || current.size < position)) {
            await handle.close();
            handle = await open(path, "r");
            inode = current.ino;
            position = 0;
            continue;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, pollMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        watcher?.close();
        await handle.close();
      }
    },
  };
}
