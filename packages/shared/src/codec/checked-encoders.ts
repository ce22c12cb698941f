// Encoders of the messages the agents publish and of the watcher's RPC replies, checked by the hand-written contract checks
// (contract-checks.ts) instead of the zod schemas, so that an agent never loads zod. Same
// results as the zod codecs' encode (message-codec.ts): the JSON of what the schema would
// return, or the reason for refusing.
import type { EventMessage } from "../messages/event-message.ts";
import type { HeartbeatMessage } from "../messages/heartbeat-message.ts";
import type { HostStatsMessage } from "../messages/host-stats-message.ts";
import type { InventoryMessage } from "../messages/inventory-message.ts";
import type { InspectReply, LogsReply } from "../messages/rpc-messages.ts";
import type { StatsMessage } from "../messages/stats-message.ts";
import {
  type Check,
  eventCheck,
  heartbeatCheck,
  hostStatsCheck,
  inspectReplyCheck,
  inventoryCheck,
  logsReplyCheck,
  Refusal,
  statsCheck,
} from "./contract-checks.ts";
import type { EncodeResult } from "./message-codec.ts";

export interface CheckedEncoder<T> {
  encode(value: T): EncodeResult;
}

const utf8Encoder = new TextEncoder();

function checkedEncoder<T>(check: Check): CheckedEncoder<T> {
  return {
    encode(value) {
      const checked = check(value);
      if (checked instanceof Refusal) return { ok: false, detail: checked.describe() };
      return { ok: true, data: utf8Encoder.encode(JSON.stringify(checked)) };
    },
  };
}

export const checkedEncoders = {
  heartbeat: checkedEncoder<HeartbeatMessage>(heartbeatCheck),
  hostStats: checkedEncoder<HostStatsMessage>(hostStatsCheck),
  stats: checkedEncoder<StatsMessage>(statsCheck),
  event: checkedEncoder<EventMessage>(eventCheck),
  inventory: checkedEncoder<InventoryMessage>(inventoryCheck),
  logsReply: checkedEncoder<LogsReply>(logsReplyCheck),
  inspectReply: checkedEncoder<InspectReply>(inspectReplyCheck),
};
