// The message codecs alone, without the bus client, logger or config helpers of the package's
// main entry: for code that only decodes (the store's decoding worker thread starts faster).

export type { StatsMessage } from "../messages/stats-message.ts";
export { codecs } from "./codecs.ts";
export type { DecodeFailureReason, DecodeResult, EncodeResult, MessageCodec } from "./message-codec.ts";
export { isStatsMessage, STATS_TIMESTAMP_PATTERN } from "./stats-quick-check.ts";
