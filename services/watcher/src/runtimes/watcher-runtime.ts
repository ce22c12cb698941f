// The seam between the watcher's runtime-neutral core and one container runtime. The core
// (watcher-service.ts) owns the bus, the one publish queue per runtime watcher and its event
// publisher, the record of what was published (recovery/), the RPC server with its log and
// inspect request handling, and the heartbeat. A runtime brings what only it knows: which host
// it is, how to follow its containers' lifecycle, how to read a container's logs and describe
// one container. Adding a runtime is a folder under runtimes/ exporting a WatcherRuntimeModule,
// plus its entry in registry.ts.
import type { Logger, Runtime, Subjects } from "@crowsnest/shared/agent";
import type { JetStreamPublisher } from "@crowsnest/shared/publishing";
import type { WatcherConfigFor } from "../config.ts";
import type { PublishedStateStore, StateCodec } from "../recovery/published-state-store.ts";
import type { ContainerInspector } from "../rpc/inspect-responder.ts";
import type { LogReplyConnection } from "../rpc/log-reply-sender.ts";
import type { LogsResponder } from "../rpc/log-request-handling.ts";

/** What the core hands a runtime once the bus is open. */
export interface RuntimeContext {
  readonly host: string;
  readonly logger: Logger;
  readonly subjects: Subjects;
  /** Where the runtime's publish queue sends (acknowledged JetStream publishes). */
  readonly js: JetStreamPublisher;
  /** Where log replies go. */
  readonly nc: LogReplyConnection;
  /** The NATS server's max payload, read when an inventory or a log chunk is cut. */
  readonly maxPayloadBytes: () => number;
  /** The record of what this host's watcher published, kept in the runtime's own form. */
  publishedState<State>(codec: StateCodec<State>): PublishedStateStore<State>;
}

/** Follows the runtime's containers and publishes their events and inventories. */
export interface RuntimeWatcher {
  start(): void;
  /** Stops following, publishes what is still queued (within a bound) and records it. */
  stop(): Promise<void>;
  /** Whether the runtime's event source is open right now (the heartbeat's `connected`). */
  isConnected(): boolean;
}

export interface RuntimeParts {
  watcher: RuntimeWatcher;
  /** The runtime's log streams behind the core's log request handling. */
  logs: LogsResponder;
  inspect: ContainerInspector;
  /** Releases what the runtime holds (connections) once everything has stopped. */
  close(): void;
}

/** A runtime reached and named, ready to be built once the bus is open. */
export interface PreparedRuntime {
  /** The host token of every subject and event id. */
  readonly host: string;
  /** Fields of the "starting watcher" log line. */
  readonly describe: Record<string, unknown>;
  /** The version of the runtime's API in use, for the heartbeat, once settled; absent: none to tell. */
  readonly runtimeApiVersion?: () => string | undefined;
  build(context: RuntimeContext): RuntimeParts;
}

/** What a runtime's folder exports (loaded only when that runtime is selected). */
export interface WatcherRuntimeModule<R extends Runtime> {
  /** Reaches the runtime and settles the host name; a ConfigError says what is missing. */
  prepare(config: WatcherConfigFor<R>, logger: Logger): Promise<PreparedRuntime>;
}
