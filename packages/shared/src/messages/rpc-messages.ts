// Request/reply bodies of `<prefix>.v1.rpc.<host>.logs` and `.inspect`, answered by the host's watcher.
import { z } from "zod";
import { schemaVersion, timestamp } from "./common.ts";
import { containerInfo } from "./container-info.ts";
import { LOG_STREAMS, MAX_LOG_TAIL, RPC_ERROR_CODES } from "./rpc-values.ts";

export { MAX_LOG_TAIL } from "./rpc-values.ts";

export const rpcErrorCode = z
  .enum(RPC_ERROR_CODES)
  .describe(
    "`logs_unavailable`: the host's runtime keeps no logs the watcher can read for this container (containerd without nerdctl's log files); the message says why.",
  );

const rpcError = z.object({
  v: schemaVersion,
  ok: z.literal(false),
  error: z.object({ code: rpcErrorCode, message: z.string() }),
});
export type RpcError = z.infer<typeof rpcError>;

export const logsRequest = z.object({
  v: schemaVersion,
  container: z.string().min(1).max(512).describe("Container id, unique id prefix, or name."),
  tail: z.number().int().min(0).max(MAX_LOG_TAIL).default(100),
  since: timestamp.nullable().default(null),
  until: timestamp.nullable().default(null),
  timestamps: z.boolean().default(false),
  follow: z.boolean().default(false),
  stream: z.enum(["stdout", "stderr", "both"]).default("both"),
  previous: z
    .boolean()
    .optional()
    .describe(
      "Kubernetes: the logs of the container's previous (last terminated) instance. Docker has none and ignores it.",
    ),
});
export type LogsRequest = z.infer<typeof logsRequest>;

export const logLine = z.object({
  stream: z
    .enum(LOG_STREAMS)
    .describe("`tty` for containers with a terminal, whose output has no separate streams."),
  ts: timestamp.nullable(),
  text: z.string(),
});

export const logsReply = z.discriminatedUnion("ok", [
  z.object({
    v: schemaVersion,
    ok: z.literal(true),
    seq: z
      .number()
      .int()
      .nonnegative()
      .describe("Position of this chunk in the reply, from 0, so a requester can detect a gap."),
    lines: z.array(logLine),
    done: z.boolean().describe("True on the last chunk."),
  }),
  rpcError,
]);
export type LogsReply = z.infer<typeof logsReply>;

export const inspectRequest = z.object({
  v: schemaVersion,
  container: z.string().min(1).max(512),
});
export type InspectRequest = z.infer<typeof inspectRequest>;

export const inspectReply = z.discriminatedUnion("ok", [
  z.object({ v: schemaVersion, ok: z.literal(true), container: containerInfo }),
  rpcError,
]);
export type InspectReply = z.infer<typeof inspectReply>;
