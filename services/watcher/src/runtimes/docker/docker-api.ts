// The subset of the Docker Engine API the watcher uses, as a structural interface: the
// domain code depends on this, dockerode is plugged in by dockerode-adapter.ts, and unit
// tests pass plain objects.

/** dockerd's event stream: newline-delimited JSON, open until dockerd goes away or it is destroyed. */
export interface DockerEventStream extends AsyncIterable<Uint8Array | string> {
  /** Closes the HTTP response; the iteration then ends (or throws a premature-close error). */
  destroy(error?: Error): unknown;
}

export interface DockerEventsOptions {
  /** Replay buffered events from this Unix time in seconds (inclusive); dockerd keeps the last 256. */
  since?: number;
  /** Only container events are asked for; the rest of the stream would be read and dropped. */
  filters: { type: "container"[] };
}

export interface DockerReplayOptions {
  /** Unix seconds, inclusive. */
  since: number;
  /** Unix time as `seconds.nanoseconds`; dockerd answers the buffered events up to it, then ends. */
  until: string;
  filters: { type: "container"[] };
}

/** One entry of `GET /containers/json?all=true`, with the fields the watcher reads. */
export interface ListedContainer {
  Id: string;
  Names?: string[] | undefined;
  Image?: string | undefined;
  ImageID?: string | undefined;
  /** Unix seconds. */
  Created?: number | undefined;
  State?: string | undefined;
  Labels?: Record<string, string> | null | undefined;
}

export interface DockerLogsOptions {
  stdout: boolean;
  stderr: boolean;
  timestamps: boolean;
  follow: boolean;
  /** Lines from the end; undefined: all. */
  tail?: number;
  /** Unix time as `seconds.nanoseconds`. */
  since?: string;
  until?: string;
}

/** A container's log output: multiplexed frames, or raw bytes for a TTY container. */
export interface DockerLogStream extends AsyncIterable<Uint8Array | string> {
  destroy(error?: Error): unknown;
}

export interface DockerApi {
  /** Resolves once dockerd has answered, i.e. once the subscription is in place. */
  getEvents(options: DockerEventsOptions): Promise<DockerEventStream>;
  /** The buffered events of a past interval; the stream ends after them. */
  replayEvents(options: DockerReplayOptions, signal?: AbortSignal): Promise<DockerEventStream>;
  listContainers(options: { all: boolean; signal?: AbortSignal }): Promise<ListedContainer[]>;
  /**
   * `GET /containers/{ref}/json`: `ref` is an id, a unique id prefix or a name. The answer is
   * untyped outside input (parse it with parseContainerInspect). A missing container rejects
   * with DockerNotFoundError.
   */
  inspectContainer(ref: string, options?: { signal?: AbortSignal }): Promise<unknown>;
  /** Rejects with DockerNotFoundError when the container does not exist. */
  containerLogs(id: string, options: DockerLogsOptions, signal?: AbortSignal): Promise<DockerLogStream>;
  ping(): Promise<unknown>;
}
