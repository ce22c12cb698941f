// Takes apart Docker's multiplexed log stream (containers without a TTY): frames of an 8-byte
// header `[stream, 0, 0, 0, size uint32 big-endian]` and `size` bytes of output, cut into HTTP
// chunks anywhere, a header included. The frames come in the order the container wrote them,
// stdout and stderr interleaved, which is what keeps the lines in their real order.
//
// Each frame is one log entry, and with timestamps on, each starts with its time: pieces say
// whether they start a frame, and a frame is handed on whole unless it is large (then in
// pieces of at least MIN_PIECE_BYTES, so the first still holds the whole time prefix).

export type OutputStream = "stdout" | "stderr";

export interface FramePiece {
  readonly stream: OutputStream;
  /** True for the piece that begins a frame (a log entry). */
  readonly frameStart: boolean;
  readonly bytes: Uint8Array;
}

export interface LogDemuxer {
  push(chunk: Uint8Array): FramePiece[];
  /** Bytes of a frame the stream ended in the middle of, if any. */
  end(): FramePiece[];
  /** True once a header made no sense; everything after it is passed on as stdout. */
  readonly corrupted: boolean;
}

const HEADER_BYTES = 8;
export const MIN_PIECE_BYTES = 64 * 1024;

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function createLogDemuxer(): LogDemuxer {
  let header: Uint8Array = new Uint8Array(0);
  let stream: OutputStream = "stdout";
  /** Payload bytes of the current frame still to come; 0 between frames. */
  let remaining = 0;
  let frameStart = false;
  let parts: Uint8Array[] = [];
  let partsBytes = 0;
  let corrupted = false;

  const takeParts = (out: FramePiece[]): void => {
    if (partsBytes === 0) return;
    out.push({ stream, frameStart, bytes: concat(parts, partsBytes) });
    parts = [];
    partsBytes = 0;
    frameStart = false;
  };

  return {
    push(chunk) {
      const out: FramePiece[] = [];
      if (corrupted) {
        if (chunk.length > 0) out.push({ stream: "stdout", frameStart: false, bytes: chunk });
        return out;
      }
      let offset = 0;
      while (offset < chunk.length) {
        if (remaining === 0) {
          const needed = HEADER_BYTES - header.length;
          const taken = chunk.subarray(offset, offset + needed);
          header = concat([header, taken], header.length + taken.length);
          offset += taken.length;
          if (header.length < HEADER_BYTES) break;
          const kind = header[0];
          // stdin (0) never appears in logs but is valid framing; bytes 1..3 are always zero.
          if (
            (kind !== 0 && kind !== 1 && kind !== 2) ||
            header[1] !== 0 ||
            header[2] !== 0 ||
            header[3] !== 0
          ) {
            // Not multiplexed after all (or misaligned): pass the rest through rather than lose it.
            corrupted = true;
            const rest = concat([header, chunk.subarray(offset)], header.length + chunk.length - offset);
            header = new Uint8Array(0);
            out.push({ stream: "stdout", frameStart: false, bytes: rest });
            return out;
          }
          stream = kind === 2 ? "stderr" : "stdout";
          remaining = new DataView(header.buffer, header.byteOffset, HEADER_BYTES).getUint32(4, false);
          header = new Uint8Array(0);
          frameStart = true;
          if (remaining === 0) {
            // An empty frame: an entry with no output.
            out.push({ stream, frameStart: true, bytes: new Uint8Array(0) });
            frameStart = false;
          }
          continue;
        }
        const piece = chunk.subarray(offset, offset + remaining);
        offset += piece.length;
        remaining -= piece.length;
        parts.push(piece);
        partsBytes += piece.length;
        if (remaining === 0 || partsBytes >= MIN_PIECE_BYTES) takeParts(out);
      }
      return out;
    },
    end() {
      const out: FramePiece[] = [];
      takeParts(out);
      remaining = 0;
      return out;
    },
    get corrupted() {
      return corrupted;
    },
  };
}
