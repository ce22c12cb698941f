// Cuts a byte stream into text lines (a watch's newline-delimited JSON), whatever the chunking.
// A line longer than the limit ends the stream with an error rather than growing without bound.
import { StringDecoder } from "node:string_decoder";
import { KubeApiError, MALFORMED_RESPONSE } from "./kube-api-error.ts";

export async function* splitLines(
  source: AsyncIterable<Buffer | string>,
  maxLineBytes: number,
): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  for await (const chunk of source) {
    pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
    let start = 0;
    for (let newline = pending.indexOf("\n"); newline !== -1; newline = pending.indexOf("\n", start)) {
      const line = pending.slice(start, newline).trim();
      start = newline + 1;
      if (line !== "") yield line;
    }
    pending = pending.slice(start);
    if (pending.length > maxLineBytes) {
      throw new KubeApiError(
        200,
        MALFORMED_RESPONSE,
        `a line of the stream is longer than ${maxLineBytes} bytes`,
      );
    }
  }
  const last = (pending + decoder.end()).trim();
  if (last !== "") yield last;
}
