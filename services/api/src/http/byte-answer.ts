// An answer joined from many pieces, written once into one Buffer.
//
// Why: a string joined from thousands of pieces (500 sparklines are 1 MB of kept number texts) is
// a rope. Handing it to the HTTP layer costs two walks of it — Buffer.byteLength for
// Content-Length, then the UTF-8 encoding of the write — each flattening it first, which cost
// more than building the answer (docs/benchmarks.md, issue #16). Kept pieces held as bytes and
// written into one Buffer are copied once; a Uint8Array body goes to the socket as it is.

/** A piece of an answer: text, or bytes already encoded as UTF-8 (kept pieces). */
export type AnswerPiece = string | Uint8Array;

export class ByteAnswer {
  readonly #pieces: AnswerPiece[] = [];
  #length = 0;

  push(...pieces: readonly AnswerPiece[]): this {
    for (const piece of pieces) {
      this.#pieces.push(piece);
      this.#length += typeof piece === "string" ? Buffer.byteLength(piece) : piece.byteLength;
    }
    return this;
  }

  get byteLength(): number {
    return this.#length;
  }

  /** The pieces, in order, in one Buffer. */
  toBuffer(): Buffer<ArrayBuffer> {
    const out = Buffer.allocUnsafe(this.#length);
    let offset = 0;
    for (const piece of this.#pieces) {
      if (typeof piece === "string") {
        offset += out.write(piece, offset);
      } else {
        out.set(piece, offset);
        offset += piece.byteLength;
      }
    }
    return out;
  }
}
