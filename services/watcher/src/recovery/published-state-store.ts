// What a watcher last published about each object of its host (a Docker container, a
// Kubernetes pod), kept on the bus so that a restarted watcher can tell what it missed while it
// was not running, whatever the runtime.
//
// Kept in a JetStream KV bucket, one key per object, rather than read back from the newest
// inventory and the events after it on the events stream: the bucket holds exactly what the
// watcher last published, however long ago (the events stream forgets after its max age, and a
// quiet host publishes an inventory only every few minutes); reading it back costs one get per
// object instead of parsing a split inventory and replaying events; and one small write per
// change keeps a host of thousands of pods cheap (one value for the whole host would be
// rewritten on every event and outgrow the max payload). Writes go through after the messages
// they describe are stored (see PublishQueue.afterStored), coalesced per key, retried until
// they succeed.
//
// Keys (`=` stands for `~` of the subject-token encoding, which KV keys do not allow):
//   <host>.<runtime>.objects.<object>  {"v":1,"host","runtime","key","recorded_at","state":{…}}
//   <host>.<runtime>.cursor            {"v":1,"host","runtime","cursor","recorded_at"}
// `state` is the runtime's own (see its codec); `cursor` an opaque position in the runtime's
// event stream up to which the recorded states reflect the runtime (Docker: dockerd's time in
// nanoseconds of the newest event published or the newest look at every container).
import {
  encodeSubjectToken,
  type Logger,
  type Runtime,
  type Subjects,
  watcherStateBucketName,
  withAdminRetry,
} from "@crowsnest/shared/agent";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import { type BackoffOptions, CappedBackoff } from "@crowsnest/shared/util/capped-backoff";
import { OutageLog } from "@crowsnest/shared/util/outage-log";
import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

/** The subset of @nats-io/kv's KV the store uses; tests may pass the real bucket or a plain object. */
export interface StateBucket {
  put(key: string, data: Uint8Array): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  get(key: string): Promise<{ readonly value: Uint8Array; readonly operation: string } | null>;
  keys(filter: string): Promise<AsyncIterable<string>>;
}

// The bucket's name is shared: the NATS permissions of each host (nats-authorization.ts) name it too.
export { watcherStateBucketName } from "@crowsnest/shared/agent";

/**
 * Creates the bucket if it does not exist yet (history 1: only the newest value of a key
 * matters), with `replicas` copies (CROWSNEST_STREAM_REPLICAS), retried while a cluster elects a
 * leader. An existing bucket keeps its replicas: Kvm.create does not update it, ensureStreams does.
 */
export async function openWatcherStateBucket(
  js: JetStreamClient,
  subjects: Subjects,
  options: { replicas: number; logger: Logger },
): Promise<StateBucket> {
  const name = watcherStateBucketName(subjects);
  return await withAdminRetry(
    `KV bucket ${name}`,
    () => new Kvm(js).create(name, { history: 1, replicas: options.replicas }),
    { logger: options.logger },
  );
}

/** One subject-token-encoded name as one KV key token. */
function keyToken(raw: string): string {
  return encodeSubjectToken(raw).replaceAll("~", "=");
}

/** A runtime's state of one object as JSON, and back. */
export interface StateCodec<State> {
  toJson(state: State): unknown;
  /** Undefined: not a state this runtime can use (logged and skipped). */
  fromJson(json: unknown): State | undefined;
}

export interface RecoveredEntry<State> {
  readonly state: State;
  /** When the watcher recorded it, by its clock (ms). */
  readonly recordedAtMs: number;
}

export interface RecoveredState<State> {
  /** By object key. */
  readonly entries: ReadonlyMap<string, RecoveredEntry<State>>;
  readonly cursor: string | undefined;
  /** When the cursor was recorded (the watcher's clock, ms): the newest record as a whole. */
  readonly cursorRecordedAtMs: number | undefined;
}

export interface PublishedStateStoreOptions<State> {
  /** Opens (or creates) the bucket; called once, when it is first needed. */
  openBucket: () => Promise<StateBucket>;
  host: string;
  runtime: Runtime;
  codec: StateCodec<State>;
  logger: Logger;
  /** Deadline of each bucket call (default 5 s). */
  timeoutMs?: number;
  retry?: BackoffOptions;
  now?: () => number;
}

export interface PublishedStateStore<State> {
  /** Reads what was recorded for this host and runtime; rejects when the bucket cannot be read. */
  load(): Promise<RecoveredState<State>>;
  /** Records one object's state (written in the background, the newest state of a key wins). */
  record(key: string, state: State): void;
  /** Forgets one object (it is gone). */
  forget(key: string): void;
  /** Records every object of `all` and forgets every other one this host had. */
  recordAll(all: ReadonlyMap<string, State>): void;
  /** Records the position in the runtime's event stream up to which everything was published. */
  recordCursor(cursor: string): void;
  /** Resolves once everything recorded so far is written (or the store was closed). */
  flush(): Promise<void>;
  /** Writes what is pending, for at most `timeoutMs`, then stops writing. */
  close(timeoutMs: number): Promise<void>;
}

type Pending<State> = { readonly kind: "put"; readonly state: State } | { readonly kind: "forget" };

interface StoredEnvelope {
  v: 1;
  host: string;
  runtime: string;
  key?: string;
  cursor?: string;
  recorded_at: string;
  state?: unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function createPublishedStateStore<State>(
  options: PublishedStateStoreOptions<State>,
): PublishedStateStore<State> {
  const { host, runtime, codec, logger } = options;
  let opening: Promise<StateBucket> | undefined;
  const bucket = (): Promise<StateBucket> => {
    opening ??= options.openBucket().catch((error: unknown) => {
      // Tried again next time.
      opening = undefined;
      throw error;
    });
    return opening;
  };
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const base = `${keyToken(host)}.${runtime}`;
  const objectKey = (key: string) => `${base}.objects.${keyToken(key)}`;
  const cursorKey = `${base}.cursor`;
  const backoff = new CappedBackoff(options.retry ?? { initialMs: 250, maxMs: 5000 });
  const outage = new OutageLog({
    logger,
    failureMessage:
      "cannot record the watcher's state on the bus; retrying (a restart meanwhile may repeat events)",
    recoveryMessage: "recording the watcher's state works again",
  });
  /** Objects of this host the bucket has (as far as this store knows). */
  const stored = new Set<string>();
  /** Whether `stored` knows every object of this host in the bucket (load() read them). */
  let loaded = false;
  /**
   * recordAll() before the bucket was read: the objects to keep when every other key of this
   * host is deleted, which needs a listing of the bucket.
   */
  let sweepKeeping: ReadonlySet<string> | undefined;
  const pending = new Map<string, Pending<State>>();
  let pendingCursor: string | undefined;
  let writer: Promise<void> | undefined;
  const closing = new AbortController();

  const envelope = (fields: Partial<StoredEnvelope>): Uint8Array =>
    encoder.encode(
      JSON.stringify({ v: 1, host, runtime, ...fields, recorded_at: new Date(now()).toISOString() }),
    );

  const call = <T>(what: string, run: (opened: StateBucket) => Promise<T>): Promise<T> =>
    withDeadline(what, timeoutMs, async () => run(await bucket()));

  const writeOne = async (key: string, change: Pending<State>): Promise<void> => {
    if (change.kind === "put") {
      await call(`recording ${key}`, (opened) =>
        opened.put(objectKey(key), envelope({ key, state: codec.toJson(change.state) })),
      );
      stored.add(key);
    } else {
      await call(`forgetting ${key}`, (opened) => opened.delete(objectKey(key)));
      stored.delete(key);
    }
  };

  /** Deletes every object key of this host but those of `keep`. */
  const sweep = async (keep: ReadonlySet<string>): Promise<void> => {
    const keepKeys = new Set([...keep].map(objectKey));
    const listing = await call("listing the recorded objects", (opened) => opened.keys(`${base}.objects.>`));
    const stale: string[] = [];
    for await (const kvKey of listing) if (!keepKeys.has(kvKey)) stale.push(kvKey);
    for (const kvKey of stale) await call(`deleting ${kvKey}`, (opened) => opened.delete(kvKey));
  };

  const writeAll = async (): Promise<void> => {
    while (hasWork() && !closing.signal.aborted) {
      const keeping = sweepKeeping;
      if (keeping !== undefined) {
        try {
          await sweep(keeping);
          if (sweepKeeping === keeping) sweepKeeping = undefined;
          loaded = true;
        } catch (error) {
          outage.failed({ err: error, pending: pending.size });
          await abortableSleep(backoff.next(), closing.signal);
          continue;
        }
      }
      const batch = [...pending];
      pending.clear();
      const cursor = pendingCursor;
      pendingCursor = undefined;
      const failed: [string, Pending<State>][] = [];
      let lastError: unknown;
      await forEachBounded(batch, 16, async ([key, change]) => {
        try {
          await writeOne(key, change);
        } catch (error) {
          failed.push([key, change]);
          lastError = error;
        }
      });
      // The cursor only after the objects it covers, so it never runs ahead of them.
      let cursorFailed = false;
      if (cursor !== undefined && failed.length === 0) {
        try {
          await call("recording the cursor", (opened) => opened.put(cursorKey, envelope({ cursor })));
        } catch (error) {
          cursorFailed = true;
          lastError = error;
        }
      }
      if (failed.length === 0 && !cursorFailed) {
        outage.succeeded();
        backoff.reset();
        continue;
      }
      // Back in, unless a newer change of the same key came meanwhile.
      for (const [key, change] of failed) if (!pending.has(key)) pending.set(key, change);
      if (cursor !== undefined) pendingCursor ??= cursor;
      outage.failed({ err: lastError, pending: pending.size });
      await abortableSleep(backoff.next(), closing.signal);
    }
  };

  const hasWork = (): boolean =>
    pending.size > 0 || pendingCursor !== undefined || sweepKeeping !== undefined;

  const kick = (): void => {
    if (closing.signal.aborted || writer !== undefined) return;
    // Cleared only once the run has ended (a run with nothing to do ends at once: clearing it
    // from inside would come before this assignment and leave a finished run in place for good).
    const running: Promise<void> = writeAll()
      .catch((error: unknown) => {
        logger.error({ err: error }, "recording the watcher's state failed unexpectedly");
      })
      .finally(() => {
        if (writer === running) writer = undefined;
        // A change recorded between the run's last look and its end.
        if (hasWork()) kick();
      });
    writer = running;
  };

  const parseEnvelope = (bytes: Uint8Array): StoredEnvelope | undefined => {
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(bytes));
    } catch {
      return undefined;
    }
    if (typeof json !== "object" || json === null) return undefined;
    const value = json as Partial<StoredEnvelope>;
    if (value.v !== 1 || value.host !== host || value.runtime !== runtime) return undefined;
    if (typeof value.recorded_at !== "string" || Number.isNaN(Date.parse(value.recorded_at)))
      return undefined;
    return value as StoredEnvelope;
  };

  return {
    async load() {
      const keys: string[] = [];
      const listing = await call("listing the recorded objects", (opened) =>
        opened.keys(`${base}.objects.>`),
      );
      for await (const key of listing) keys.push(key);
      const entries = new Map<string, RecoveredEntry<State>>();
      let unusable = 0;
      let loadError: unknown;
      await forEachBounded(keys, 16, async (kvKey) => {
        try {
          const entry = await call(`reading ${kvKey}`, (opened) => opened.get(kvKey));
          if (entry === null || entry.operation !== "PUT") return;
          const value = parseEnvelope(entry.value);
          const state = value === undefined ? undefined : codec.fromJson(value.state);
          if (
            value === undefined ||
            typeof value.key !== "string" ||
            objectKey(value.key) !== kvKey ||
            !state
          ) {
            unusable += 1;
            return;
          }
          entries.set(value.key, { state, recordedAtMs: Date.parse(value.recorded_at) });
          stored.add(value.key);
        } catch (error) {
          loadError = error;
        }
      });
      if (loadError !== undefined) throw loadError;
      loaded = true;
      if (unusable > 0) {
        logger.warn(
          { unusable, bucket_keys: `${base}.objects.>` },
          "recorded states that are not usable were skipped",
        );
      }
      const cursorEntry = await call("reading the cursor", (opened) => opened.get(cursorKey));
      const cursorValue =
        cursorEntry === null || cursorEntry.operation !== "PUT"
          ? undefined
          : parseEnvelope(cursorEntry.value);
      const cursor = typeof cursorValue?.cursor === "string" ? cursorValue.cursor : undefined;
      const cursorRecordedAtMs =
        cursor === undefined ? undefined : Date.parse(cursorValue?.recorded_at ?? "");
      return { entries, cursor, cursorRecordedAtMs };
    },
    record(key, state) {
      pending.set(key, { kind: "put", state });
      kick();
    },
    forget(key) {
      pending.set(key, { kind: "forget" });
      kick();
    },
    recordAll(all) {
      for (const key of stored) if (!all.has(key)) pending.set(key, { kind: "forget" });
      // Keys from before that this store never read (the bucket could not be read at start).
      if (!loaded) sweepKeeping = new Set(all.keys());
      for (const [key, state] of all) pending.set(key, { kind: "put", state });
      kick();
    },
    recordCursor(cursor) {
      pendingCursor = cursor;
      kick();
    },
    async flush() {
      while (writer !== undefined) await writer;
    },
    async close(closeTimeoutMs) {
      const flushed = (async () => {
        while (writer !== undefined) await writer;
      })();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), closeTimeoutMs);
      });
      const outcome = await Promise.race([flushed.then(() => "flushed" as const), timedOut]);
      clearTimeout(timer);
      closing.abort();
      if (outcome === "timeout" || pending.size > 0 || pendingCursor !== undefined) {
        logger.warn(
          { pending: pending.size + (pendingCursor === undefined ? 0 : 1) },
          "stopped before the watcher's state was recorded; the next start may repeat some events",
        );
      }
      await flushed.catch(() => undefined);
    },
  };
}
