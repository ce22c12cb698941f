// An answer joined from many pieces, written once into one Buffer.
//
// Why: a string joined from thousands of pieces (500 sparklines are 1 MB of kept number texts),
// or from a few long ones (a chart's points, in parts of at most 128 points), is a rope. Handing
// it to the HTTP layer costs two walks of it — Buffer.byteLength for Content-Length, then the
// UTF-8 encoding of the write — each flattening it first, which cost more than building the
// answer (docs/benchmarks.md, issue #16); and a flat string over 128 KB is allocated in V8's
// large-object space, pages mapped and unmapped for each one. Kept pieces held as bytes and
// written into one Buffer are copied once; a Uint8Array body goes to the socket as it is.

/** A piece of an answer: text, or bytes already encoded as UTF-8 (kept pieces). */
export type AnswerPiece = string | Uint8Array;

/** Texts from this length on are kept as pieces of their own (see push). */
const OWN_PIECE_CHARS = 4096;

export class ByteAnswer {
  readonly #pieces: AnswerPiece[] = [];
  #length = 0;
  /**
   * Text pushed since the last bytes, joined: an answer alternates kept bytes with a few short
   * texts (`,"avg":[`), and measuring and writing each of those alone cost more than the copy.
   */
  #text = "";

  push(...pieces: readonly AnswerPiece[]): this {
    for (const piece of pieces) {
      if (typeof piece === "string" && piece.length < OWN_PIECE_CHARS) {
        this.#text += piece;
      } else if (typeof piece === "string") {
        // A long text (a part of a chart's points as Postgres sent it) stays a piece of its own:
        // joined to the others, it would be one rope, flattened into one large string to write.
        this.#endText();
        this.#pieces.push(piece);
        this.#length += Buffer.byteLength(piece);
      } else {
        this.#endText();
        this.#pieces.push(piece);
        this.#length += piece.byteLength;
      }
    }
    return this;
  }

  get byteLength(): number {
    this.#endText();
    return this.#length;
  }

  /** The pieces, in order, in one Buffer. */
  toBuffer(): Buffer<ArrayBuffer> {
    this.#endText();
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

  #endText(): void {
    if (this.#text === "") return;
    this.#pieces.push(this.#text);
    this.#length += Buffer.byteLength(this.#text);
    this.#text = "";
  }
}
