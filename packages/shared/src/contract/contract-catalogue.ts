// What the published bus contract consists of: every message (its zod schema, which is the one
// the codecs validate with, and examples) and every subject family (its address as the subject
// builders make it, its parameters, who publishes it). The generators in this folder turn this
// into JSON Schemas, an AsyncAPI document and an HTML page; nothing here is used at run time.
import type { z } from "zod";
import { alertTransitionMessage } from "../messages/alert-transition-message.ts";
import { runtime } from "../messages/common.ts";
import { deadletterMessage } from "../messages/deadletter-message.ts";
import { eventKind, eventMessage, KNOWN_EVENT_ACTIONS } from "../messages/event-message.ts";
import { heartbeatMessage, serviceName } from "../messages/heartbeat-message.ts";
import { hostStatsMessage } from "../messages/host-stats-message.ts";
import { inventoryMessage } from "../messages/inventory-message.ts";
import { inspectReply, inspectRequest, logsReply, logsRequest } from "../messages/rpc-messages.ts";
import { statsMessage } from "../messages/stats-message.ts";
import { ANY, createSubjects } from "../subjects/subjects.ts";

export interface ContractExample {
  readonly name: string;
  readonly summary: string;
  readonly payload: Record<string, unknown>;
}

export interface ContractMessage {
  /** File and component name: `/api/v1/schemas/<name>.json`. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly schema: z.ZodType;
  /** How the publisher builds JetStream's Nats-Msg-Id header; undefined: the message has none. */
  readonly messageId?: string;
  readonly examples: readonly ContractExample[];
}

export interface ContractParameter {
  readonly description: string;
  readonly enum?: readonly string[];
  readonly examples: readonly string[];
}

export interface ContractChannel {
  readonly id: string;
  /** The subject with `{parameter}` for each variable token, under the default prefix; null: the requester's inbox. */
  readonly address: string | null;
  readonly title: string;
  readonly description: string;
  readonly parameters: Readonly<Record<string, ContractParameter>>;
  readonly messages: readonly string[];
  /** Who publishes on it; for an RPC subject, who answers. */
  readonly publisher: string;
}

export interface ContractRpc {
  readonly id: string;
  readonly summary: string;
  readonly request: string;
  readonly reply: string;
}

const TS = "2026-11-21T20:15:00.123Z";
const CONTAINER_ID = "4f1c9b0e2a7d";
const ENCODED_TOKEN_RULE =
  "Encoded into exactly one subject token: letters, digits, `-` and `_` stay as they are, every other UTF-8 byte becomes `~XX` (upper-case hex), and the empty name is `~` (`web.1` → `web~2E1`, `/a b` → `~2Fa~20b`). The raw name is in the payload. Wildcards match encoded tokens.";

const containerInfoExample = {
  external_id: CONTAINER_ID,
  name: "web",
  image: "nginx:1.27",
  image_id: "sha256:9a3b",
  state: "running",
  labels: { "com.docker.compose.project": "shop" },
  created_at: "2026-11-21T19:00:00.000Z",
  started_at: "2026-11-21T19:00:01.250Z",
  finished_at: null,
  restart_count: 0,
  exit_code: null,
  pid: 4242,
  health: null,
  limits: { mem_limit: 268435456, cpu_limit_cores: null, pids_limit: null },
  compose: { project: "shop", service: "web", number: 1 },
  kubernetes: null,
};

export const CONTRACT_MESSAGES: readonly ContractMessage[] = [
  {
    name: "stats",
    title: "Container sample",
    description:
      "One container's resource sample, published by the collector every interval. A value the runtime cannot give is null, never -1 or 0.",
    schema: statsMessage,
    messageId: "`<host>/<runtime>/<external_id>/<ts>`",
    examples: [
      {
        name: "docker-sample",
        summary: "A Docker container using about one core",
        payload: {
          v: 1,
          host: "node-1",
          runtime: "docker",
          container: { external_id: CONTAINER_ID, name: "web" },
          ts: TS,
          interval_ms: 10002,
          cpu_percent: 97.8,
          online_cpus: 2,
          cpu_limit_cores: null,
          mem_used: 67239936,
          mem_limit: 268435456,
          net_rx_bytes: 52310,
          net_tx_bytes: 1804,
          net_rx_bytes_per_s: 12.4,
          net_tx_bytes_per_s: 0.8,
          blk_read_bytes: 4096,
          blk_write_bytes: 0,
          blk_read_bytes_per_s: 0,
          blk_write_bytes_per_s: 0,
          pids: 3,
        },
      },
    ],
  },
  {
    name: "host-stats",
    title: "Host sample",
    description: "The host's own CPU, memory, load and uptime, published by the collector every interval.",
    schema: hostStatsMessage,
    messageId: "`<host>/host/<ts>`",
    examples: [
      {
        name: "host-sample",
        summary: "A two-core host",
        payload: {
          v: 1,
          host: "node-1",
          ts: "2026-11-21T20:15:00.000Z",
          cpu_percent: 48.2,
          online_cpus: 2,
          mem_total: 25169862656,
          mem_used: 3904897024,
          mem_available: 21264965632,
          load_1: 1.02,
          load_5: 0.88,
          load_15: 0.61,
          uptime_s: 86400,
        },
      },
    ],
  },
  {
    name: "event",
    title: "Lifecycle event",
    description:
      "A normalized lifecycle event of a container, pod, node or service, published by the watcher. `synthesized` is true when the watcher inferred it after a reconnect rather than seeing it live.",
    schema: eventMessage,
    messageId: "the event's `event_id`",
    examples: [
      {
        name: "container-died",
        summary: "A container killed for running out of memory",
        payload: {
          v: 1,
          event_id: `node-1/docker/1763756100123456789/${CONTAINER_ID}/die`,
          host: "node-1",
          runtime: "docker",
          kind: "container",
          action: "die",
          actor: { external_id: CONTAINER_ID, name: "web" },
          ts: TS,
          ts_nano: "1763756100123456789",
          image: "nginx:1.27",
          exit_code: 137,
          oom_killed: true,
          signal: null,
          health_status: null,
          synthesized: false,
          attributes: { exitCode: "137", image: "nginx:1.27", name: "web" },
        },
      },
    ],
  },
  {
    name: "inventory",
    title: "Inventory",
    description:
      "Every container the host has now, published by the watcher at start, after every reconnect and periodically; split into parts when one message would exceed the server's max payload.",
    schema: inventoryMessage,
    messageId: "`<snapshot_id>/<part>`",
    examples: [
      {
        name: "startup-inventory",
        summary: "A host with one container",
        payload: {
          v: 1,
          host: "node-1",
          runtime: "docker",
          ts: "2026-11-21T20:15:00.000Z",
          reason: "startup",
          snapshot_id: "node-1-1763756100000",
          part: 1,
          parts: 1,
          containers: [containerInfoExample],
        },
      },
    ],
  },
  {
    name: "alert-transition",
    title: "Alert transition",
    description:
      "A change of a container's alert state, published by the store: which metric fired or resolved, with its own value and threshold.",
    schema: alertTransitionMessage,
    messageId: "`alert/<transition id>`",
    examples: [
      {
        name: "memory-fired",
        summary: "The memory alert fires",
        payload: {
          v: 1,
          host: "node-1",
          runtime: "docker",
          container: { external_id: CONTAINER_ID, name: "web" },
          ts: "2026-11-21T20:15:10.000Z",
          metric: "memory",
          change: "fired",
          value: 93.4,
          threshold: 90,
          previous_state: "normal",
          new_state: "mem_alert",
        },
      },
    ],
  },
  {
    name: "heartbeat",
    title: "Heartbeat",
    description: "A service's periodic sign of life (core NATS, not kept): stale after two missed intervals.",
    schema: heartbeatMessage,
    examples: [
      {
        name: "collector-heartbeat",
        summary: "A collector that reaches dockerd",
        payload: {
          v: 1,
          host: "node-1",
          service: "collector",
          version: "0.1.0",
          runtime: "docker",
          connected: true,
          started_at: "2026-11-21T19:00:00.000Z",
          ts: "2026-11-21T20:15:00.000Z",
          interval_ms: 15000,
        },
      },
    ],
  },
  {
    name: "logs-request",
    title: "Logs request",
    description:
      "Asks a host's watcher for a container's log lines. Omitted fields take their defaults; with `follow` the reply streams until the container's output ends.",
    schema: logsRequest,
    examples: [
      {
        name: "last-100-lines",
        summary: "The last 100 lines with timestamps",
        payload: {
          v: 1,
          container: "web",
          tail: 100,
          since: null,
          until: null,
          timestamps: true,
          follow: false,
          stream: "both",
        },
      },
    ],
  },
  {
    name: "logs-reply",
    title: "Logs reply chunk",
    description:
      "One chunk of the answer to a logs request, sent to the request's reply subject: `seq` counts from 0, the last chunk has `done: true`; an error message ends the reply. A follow-mode reply also sends an empty chunk every probe interval.",
    schema: logsReply,
    examples: [
      {
        name: "last-chunk",
        summary: "A chunk that is also the last",
        payload: {
          v: 1,
          ok: true,
          seq: 0,
          done: true,
          lines: [{ stream: "stderr", ts: TS, text: "listening on :80" }],
        },
      },
      {
        name: "not-found",
        summary: "The container does not exist on this host",
        payload: { v: 1, ok: false, error: { code: "not_found", message: "no container named web" } },
      },
    ],
  },
  {
    name: "inspect-request",
    title: "Inspect request",
    description: "Asks a host's watcher for what it knows about one container.",
    schema: inspectRequest,
    examples: [{ name: "by-name", summary: "By name", payload: { v: 1, container: "web" } }],
  },
  {
    name: "inspect-reply",
    title: "Inspect reply",
    description: "The answer to an inspect request: the container's full metadata, or an error.",
    schema: inspectReply,
    examples: [
      {
        name: "found",
        summary: "A running container",
        payload: { v: 1, ok: true, container: containerInfoExample },
      },
    ],
  },
  {
    name: "deadletter",
    title: "Dead letter",
    description:
      "A message a consumer could not use, with the reason and the original bytes, so nothing is silently dropped.",
    schema: deadletterMessage,
    examples: [
      {
        name: "invalid-sample",
        summary: "A sample with a negative CPU figure",
        payload: {
          v: 1,
          service: "store",
          subject: "crowsnest.v1.stats.node-1.docker.web",
          reason: "invalid_schema",
          detail: "cpu_percent: Too small: expected number to be >=0",
          payload: '{"v":1,"cpu_percent":-1}',
          payload_encoding: "utf8",
          ts: "2026-11-21T20:15:00.500Z",
        },
      },
    ],
  },
];

const host: ContractParameter = {
  description: `The host's name. ${ENCODED_TOKEN_RULE}`,
  examples: ["node-1"],
};
const container: ContractParameter = {
  description: `The container's name (Kubernetes: \`namespace/pod/container\`). ${ENCODED_TOKEN_RULE}`,
  examples: ["web", "web~2E1"],
};
const runtimeParameter: ContractParameter = {
  description: "The host's container runtime.",
  enum: runtime.options,
  examples: ["docker"],
};
const service: ContractParameter = {
  description: "The Crowsnest service.",
  enum: serviceName.options,
  examples: ["collector"],
};

/**
 * A subject as the code's builders make it, with each `*` (one variable token) or final `>`
 * replaced by the next parameter's `{name}`: the addresses cannot drift from the subjects used.
 */
function address(subject: string, parameters: readonly string[]): string {
  const queue = [...parameters];
  const tokens = subject.split(".").map((token) => {
    if (token !== "*" && token !== ">") return token;
    const name = queue.shift();
    if (name === undefined) throw new Error(`${subject}: more variable tokens than parameters`);
    return `{${name}}`;
  });
  if (queue.length > 0) throw new Error(`${subject}: parameters ${queue.join(", ")} have no token`);
  return tokens.join(".");
}

const subjects = createSubjects();

export const CONTRACT_CHANNELS: readonly ContractChannel[] = [
  {
    id: "stats",
    address: address(subjects.stats(ANY, ANY, ANY), ["host", "runtime", "container"]),
    title: "Container samples",
    description: "One message per running container per collector interval.",
    parameters: { host, runtime: runtimeParameter, container },
    messages: ["stats"],
    publisher: "collector",
  },
  {
    id: "hostStats",
    address: address(subjects.hostStats(ANY), ["host"]),
    title: "Host samples",
    description: "One message per host per collector interval.",
    parameters: { host },
    messages: ["host-stats"],
    publisher: "collector",
  },
  {
    id: "events",
    address: address(subjects.event(ANY, ANY, ANY, ANY), ["host", "runtime", "kind", "action"]),
    title: "Lifecycle events",
    description:
      "Every lifecycle transition the watcher sees, or infers after a reconnect (`synthesized: true`); a republished event keeps its `event_id`.",
    parameters: {
      host,
      runtime: runtimeParameter,
      kind: { description: "What the event is about.", enum: eventKind.options, examples: ["container"] },
      action: {
        description: `What happened: a lower-case word; new actions may appear within v1. Known: ${KNOWN_EVENT_ACTIONS.join(", ")}.`,
        examples: ["die", "start", "oom"],
      },
    },
    messages: ["event"],
    publisher: "watcher",
  },
  {
    id: "inventory",
    address: address(subjects.inventory(ANY, ANY), ["host", "runtime"]),
    title: "Inventories",
    description: "The host's full container list: at start, after every reconnect, and periodically.",
    parameters: { host, runtime: runtimeParameter },
    messages: ["inventory"],
    publisher: "watcher",
  },
  {
    id: "alerts",
    address: address(subjects.alert(ANY, ANY), ["host", "container"]),
    title: "Alert transitions",
    description: "Every alert state change of a container.",
    parameters: { host, container },
    messages: ["alert-transition"],
    publisher: "store",
  },
  {
    id: "agents",
    address: address(subjects.agent(ANY, ANY), ["host", "service"]),
    title: "Heartbeats",
    description: "Each service's sign of life, every CROWSNEST_HEARTBEAT_INTERVAL_MS (default 15 s).",
    parameters: { host, service },
    messages: ["heartbeat"],
    publisher: "every service",
  },
  {
    id: "rpcLogs",
    address: address(subjects.rpc(ANY, "logs"), ["host"]),
    title: "Logs requests",
    description: "Request/reply: the host's watcher answers on the request's reply subject.",
    parameters: { host },
    messages: ["logs-request"],
    publisher: "watcher (answers)",
  },
  {
    id: "rpcLogsReply",
    address: null,
    title: "Logs reply",
    description: "The requester's reply subject (its inbox): one or more logs-reply chunks.",
    parameters: {},
    messages: ["logs-reply"],
    publisher: "watcher",
  },
  {
    id: "rpcInspect",
    address: address(subjects.rpc(ANY, "inspect"), ["host"]),
    title: "Inspect requests",
    description: "Request/reply: the host's watcher answers on the request's reply subject.",
    parameters: { host },
    messages: ["inspect-request"],
    publisher: "watcher (answers)",
  },
  {
    id: "rpcInspectReply",
    address: null,
    title: "Inspect reply",
    description: "The requester's reply subject (its inbox): one inspect-reply.",
    parameters: {},
    messages: ["inspect-reply"],
    publisher: "watcher",
  },
  {
    id: "deadletter",
    address: address(subjects.all("deadletter"), ["service"]),
    title: "Dead letters",
    description:
      "What a service's consumer refused, and why: the store's ingest, the api's reader of heartbeats.",
    parameters: { service },
    messages: ["deadletter"],
    publisher: "store, api",
  },
];

export const CONTRACT_RPCS: readonly ContractRpc[] = [
  {
    id: "rpcLogs",
    summary: "The watcher answers a logs request with ordered chunks.",
    request: "rpcLogs",
    reply: "rpcLogsReply",
  },
  {
    id: "rpcInspect",
    summary: "The watcher answers an inspect request with one reply.",
    request: "rpcInspect",
    reply: "rpcInspectReply",
  },
];
