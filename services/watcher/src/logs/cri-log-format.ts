// Reading a container's log file in the CRI's format, which the kubelet's runtimes write under
// /var/log/pods: one entry per line, `<RFC 3339 nanoseconds> <stdout|stderr> <tag> <text>`,
// where the tag is `F` for an entry that ends a line and `P` for a part of a longer line (the
// runtime splits long lines), joined here with the next entries of the same stream.
import type { AssembledLine, LogLineAssembler } from "./log-line-assembler.ts";
import { parseDockerLogTimestamp } from "./log-line-assembler.ts";

export interface CriLogAssemblerOptions {
  /** Only this stream's lines; `both`: every line. */
  stream: "stdout" | "stderr" | "both";
  /** A line longer than this many characters is handed on in pieces of this size. */
  maxLineChars: number;
}

const ENTRY = /^(\S+) (stdout|stderr) ([^ ]*) ?(.*)$/s;

/** Entries that are not in the CRI format (a file cut mid-entry, say) are skipped and counted. */
export function createCriLogAssembler(options: CriLogAssemblerOptions): LogLineAssembler & {
  readonly skipped: number;
} {
  const decoder = new TextDecoder();
  let carry = "";
  let skipped = 0;
  const pending = new Map<"stdout" | "stderr", { text: string; ts: string | null }>();

  const take = (entry: string, out: AssembledLine[]): void => {
    const match = ENTRY.exec(entry);
    const ts = match === null ? undefined : parseDockerLogTimestamp(match[1] ?? "");
    if (match === null || ts === undefined) {
      skipped += 1;
      return;
    }
    const stream = match[2] as "stdout" | "stderr";
    if (options.stream !== "both" && stream !== options.stream) return;
    // The tag is `P` or `F`, possibly followed by more tags after a colon.
    const partial = (match[3] ?? "").split(":")[0] === "P";
    const open = pending.get(stream);
    let text = (open?.text ?? "") + (match[4] ?? "");
    const lineTs = open?.ts ?? ts;
    while (text.length > options.maxLineChars) {
      out.push({ stream, ts: lineTs, text: text.slice(0, options.maxLineChars) });
      text = text.slice(options.maxLineChars);
    }
    if (partial) {
      pending.set(stream, { text, ts: lineTs });
    } else {
      pending.delete(stream);
      out.push({ stream, ts: lineTs, text });
    }
  };

  return {
    push(chunk) {
      const out: AssembledLine[] = [];
      const entries = (
        carry + (typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }))
      ).split("\n");
      carry = entries.pop() ?? "";
      for (const entry of entries) if (entry !== "") take(entry, out);
      return out;
    },
    end() {
      const out: AssembledLine[] = [];
      if (carry !== "") take(carry, out);
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
