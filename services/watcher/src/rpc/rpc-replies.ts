// Encodes the watcher's RPC answers through the contract's checks and names the error codes,
// so every reply a requester gets is one the schema it decodes with accepts.
import { checkedEncoders, type LogsReply, type RpcError } from "@crowsnest/shared/agent";
import type { AssembledLine } from "../logs/log-line-assembler.ts";

export type RpcErrorCode = RpcError["error"]["code"];

export function errorReply(code: RpcErrorCode, message: string): RpcError {
  return { v: 1, ok: false, error: { code, message } };
}

export function logsChunk(seq: number, lines: readonly AssembledLine[], done: boolean): LogsReply {
  return { v: 1, ok: true, seq, lines: [...lines], done };
}

/**
 * Encodes a logs reply. A chunk that fails the schema is a bug of the watcher; the requester
 * still gets an answer, an `internal` error, rather than silence.
 */
export function encodeLogsReply(reply: LogsReply): { data: Uint8Array; failure: string | undefined } {
  const encoded = checkedEncoders.logsReply.encode(reply);
  if (encoded.ok) return { data: encoded.data, failure: undefined };
  const fallback = checkedEncoders.logsReply.encode(
    errorReply("internal", "the watcher produced an invalid reply"),
  );
  return { data: fallback.ok ? fallback.data : new Uint8Array(0), failure: encoded.detail };
}
