// The message codecs alone, without the bus client, logger or config helpers of the package's
// main entry: for code that only decodes (the store's decoding worker thread starts faster).

export type { StatsMessage } from "../messages/stats-message.ts";
// The store's decoding worker checks each sample against its subject's tokens.
export { encodeSubjectToken } from "../subjects/subject-token.ts";
export { codecs } from "./codecs.ts";
export type { DecodeFailureReason, DecodeResult, EncodeResult, MessageCodec } from "./message-codec.ts";
export { isStatsMessage, STATS_TIMESTAMP_PATTERN } from "./stats-quick-check.ts";
