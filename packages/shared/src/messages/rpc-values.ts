// The lists behind the RPC messages' enums, without zod: used by the schemas (rpc-messages.ts)
// and by the hand-written checks of the watcher's replies (codec/contract-checks.ts).
export const MAX_LOG_TAIL = 5000;

export const RPC_ERROR_CODES = [
  "bad_request",
  "not_found",
  "runtime_unavailable",
  "logs_unavailable",
  "internal",
] as const;

export const LOG_STREAMS = ["stdout", "stderr", "tty"] as const;
