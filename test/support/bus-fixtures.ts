// Contract messages as a collector or watcher would publish them, for tests that feed the
// real store. Builders fill every field; tests override only what they are about.
import {
  ANY,
  codecs,
  type EventMessage,
  type HeartbeatMessage,
  type InventoryMessage,
  type MessageCodec,
  type Runtime,
  type StatsMessage,
  type Subjects,
} from "@crowsnest/shared";
import { type JetStreamClient, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  type ContractValidator,
  createContractValidator,
  messageNameForCodec,
} from "./contract-validator.ts";

export const FIXTURE_HOST = "host-a";

export function statsFixture(overrides: Partial<StatsMessage> & Pick<StatsMessage, "ts">): StatsMessage {
  return {
    v: 1,
    host: FIXTURE_HOST,
    runtime: "docker",
    container: { external_id: "c".repeat(64), name: "web.1" },
    interval_ms: 10_000,
    cpu_percent: 50,
    online_cpus: 2,
    cpu_limit_cores: null,
    mem_used: 1024,
    mem_limit: null,
    net_rx_bytes: null,
    net_tx_bytes: null,
    net_rx_bytes_per_s: null,
    net_tx_bytes_per_s: null,
    blk_read_bytes: 10,
    blk_write_bytes: 20,
    blk_read_bytes_per_s: null,
    blk_write_bytes_per_s: null,
    pids: 1,
    ...overrides,
  };
}

export function eventFixture(
  overrides: Partial<EventMessage> & Pick<EventMessage, "action" | "ts">,
): EventMessage {
  const actor = overrides.actor ?? { external_id: "c".repeat(64), name: "web.1" };
  const nanos = `${BigInt(Date.parse(overrides.ts)) * 1_000_000n}`;
  return {
    v: 1,
    event_id: `${FIXTURE_HOST}/docker/${nanos}/${actor.external_id}/${overrides.action}`,
    host: FIXTURE_HOST,
    runtime: "docker",
    kind: "container",
    actor,
    ts_nano: nanos,
    image: "busybox",
    exit_code: null,
    oom_killed: null,
    signal: null,
    health_status: null,
    synthesized: false,
    attributes: {},
    ...overrides,
  };
}

type ContainerFixture = InventoryMessage["containers"][number];

export function inventoryContainerFixture(
  overrides: Partial<ContainerFixture> & Pick<ContainerFixture, "external_id" | "name">,
): ContainerFixture {
  return {
    image: "busybox",
    image_id: null,
    state: "running",
    labels: {},
    created_at: null,
    started_at: null,
    finished_at: null,
    restart_count: null,
    exit_code: null,
    pid: null,
    health: null,
    limits: { mem_limit: null, cpu_limit_cores: null, pids_limit: null },
    compose: null,
    kubernetes: null,
    ...overrides,
  };
}

function encodeOrThrow<T>(codec: MessageCodec<T, unknown>, message: T): Uint8Array {
  const encoded = codec.encode(message);
  if (!encoded.ok) throw new Error(`fixture is not a valid message: ${encoded.detail}`);
  return encoded.data;
}

export async function publishStats(
  js: JetStreamClient,
  subjects: Subjects,
  message: StatsMessage,
  msgID?: string,
) {
  const id = msgID ?? `${message.host}/${message.runtime}/${message.container.external_id}/${message.ts}`;
  await js.publish(
    subjects.stats(message.host, message.runtime, message.container.name),
    encodeOrThrow(codecs.stats, message),
    { msgID: id },
  );
}

export async function publishEvent(js: JetStreamClient, subjects: Subjects, message: EventMessage) {
  await js.publish(
    subjects.event(message.host, message.runtime, message.kind, message.action),
    encodeOrThrow(codecs.event, message),
    { msgID: message.event_id },
  );
}

export async function publishInventory(js: JetStreamClient, subjects: Subjects, message: InventoryMessage) {
  await js.publish(
    subjects.inventory(message.host, message.runtime),
    encodeOrThrow(codecs.inventory, message),
  );
}

/** Deletes the JetStream streams of a test's subject prefix. */
export async function deleteTestStreams(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const name of jsm.streams.names()) names.push(name);
  // The watcher-state KV bucket's stream is KV_<PREFIX>_WATCHER_STATE.
  for (const name of names) {
    const upper = `${prefix.toUpperCase()}_`;
    if (name.startsWith(upper) || name.startsWith(`KV_${upper}`)) await jsm.streams.delete(name);
  }
}

let contractValidator: ContractValidator | undefined;
const publishedNames = new Map<unknown, string>(
  Object.entries(codecs).map(([key, codec]) => [codec, messageNameForCodec(key)]),
);

/**
 * Subscribes to `subject` and, in the background, appends every message `codec` accepts to
 * `into` and every other one to `undecodable` (as `subject: why`), until unsubscribed. A message
 * of the contract must also be valid by its published JSON Schema (checked with ajv, not zod).
 */
export function recordMessages<T>(
  nc: NatsConnection,
  subject: string,
  codec: Pick<MessageCodec<unknown, T>, "decode">,
  into: T[],
  undecodable: string[],
): Subscription {
  const subscription = nc.subscribe(subject);
  void (async () => {
    for await (const message of subscription) {
      const decoded = codec.decode(message.data);
      const name = publishedNames.get(codec);
      contractValidator ??= createContractValidator();
      const unpublished =
        decoded.ok && name !== undefined ? contractValidator.problems(name, message.json()) : undefined;
      if (!decoded.ok) undecodable.push(`${message.subject}: ${decoded.detail}`);
      else if (unpublished)
        undecodable.push(`${message.subject}: not a valid ${name} by contract/: ${unpublished}`);
      else into.push(decoded.value);
    }
  })();
  return subscription;
}

/** A watcher's message as a subscriber of both its subjects sees it. */
export type WatcherMessage =
  | { kind: "event"; event: EventMessage }
  | { kind: "inventory"; inventory: InventoryMessage };

/**
 * Subscribes to everything under `root` (`<prefix>.v1`) and, in the background, appends every
 * event and inventory to `into` in the order the bus delivered them (one subscription, so the
 * order between the two is kept), and every message that fails its codec to `undecodable`.
 */
export function recordWatcherMessages(
  nc: NatsConnection,
  root: string,
  into: WatcherMessage[],
  undecodable: string[],
): Subscription {
  const subscription = nc.subscribe(`${root}.>`);
  void (async () => {
    for await (const message of subscription) {
      if (message.subject.startsWith(`${root}.events.`)) {
        const decoded = codecs.event.decode(message.data);
        if (decoded.ok) into.push({ kind: "event", event: decoded.value });
        else undecodable.push(decoded.detail);
      } else if (message.subject.startsWith(`${root}.inventory.`)) {
        const decoded = codecs.inventory.decode(message.data);
        if (decoded.ok) into.push({ kind: "inventory", inventory: decoded.value });
        else undecodable.push(decoded.detail);
      }
    }
  })();
  return subscription;
}

/** The events among `received` from index `from` on. */
export function watcherEventsSince(received: readonly WatcherMessage[], from: number): EventMessage[] {
  return received.slice(from).flatMap((entry) => (entry.kind === "event" ? [entry.event] : []));
}

/** The first `startup` inventory among `received` from index `from` on, or undefined. */
export function startupInventorySince(
  received: readonly WatcherMessage[],
  from: number,
): InventoryMessage | undefined {
  return received
    .slice(from)
    .flatMap((entry) =>
      entry.kind === "inventory" && entry.inventory.reason === "startup" ? [entry.inventory] : [],
    )[0];
}

/** What one host's watcher published, each kind in the order it arrived, every message checked against the contract. */
export interface HostRecording {
  readonly events: EventMessage[];
  readonly inventories: InventoryMessage[];
  readonly heartbeats: HeartbeatMessage[];
  /** Messages that failed their codec or the published JSON Schema (there should be none). */
  readonly undecodable: string[];
  stop(): void;
}

/** Records `host`'s events and inventories of `runtime`, and its watcher's heartbeats. */
export function recordHost(
  nc: NatsConnection,
  subjects: Subjects,
  host: string,
  runtime: Runtime,
): HostRecording {
  const recording = {
    events: [] as EventMessage[],
    inventories: [] as InventoryMessage[],
    heartbeats: [] as HeartbeatMessage[],
    undecodable: [] as string[],
  };
  const subscriptions = [
    recordMessages(
      nc,
      subjects.event(host, runtime, ANY, ANY),
      codecs.event,
      recording.events,
      recording.undecodable,
    ),
    recordMessages(
      nc,
      subjects.inventory(host, runtime),
      codecs.inventory,
      recording.inventories,
      recording.undecodable,
    ),
    recordMessages(
      nc,
      subjects.agent(host, "watcher"),
      codecs.heartbeat,
      recording.heartbeats,
      recording.undecodable,
    ),
  ];
  return {
    ...recording,
    stop: () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
    },
  };
}
