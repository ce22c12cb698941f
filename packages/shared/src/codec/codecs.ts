// One codec per message of the bus contract.
import { alertTransitionMessage } from "../messages/alert-transition-message.ts";
import { deadletterMessage } from "../messages/deadletter-message.ts";
import { eventMessage } from "../messages/event-message.ts";
import { heartbeatMessage } from "../messages/heartbeat-message.ts";
import { hostStatsMessage } from "../messages/host-stats-message.ts";
import { inventoryMessage } from "../messages/inventory-message.ts";
import { inspectReply, inspectRequest, logsReply, logsRequest } from "../messages/rpc-messages.ts";
import { statsMessage } from "../messages/stats-message.ts";
import { createCodec } from "./message-codec.ts";

export const codecs = {
  stats: createCodec(statsMessage),
  hostStats: createCodec(hostStatsMessage),
  event: createCodec(eventMessage),
  inventory: createCodec(inventoryMessage),
  alertTransition: createCodec(alertTransitionMessage),
  heartbeat: createCodec(heartbeatMessage),
  logsRequest: createCodec(logsRequest),
  logsReply: createCodec(logsReply),
  inspectRequest: createCodec(inspectRequest),
  inspectReply: createCodec(inspectReply),
  deadletter: createCodec(deadletterMessage),
};
