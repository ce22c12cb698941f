// Keeps a pruned copy of one kind of Kubernetes object (pods, nodes, services) current: list
// (in pages), then watch from the list's resourceVersion with bookmarks, so nothing between the
// two is lost. A watch that ends is resumed from the last resourceVersion seen; one the server
// no longer has history for (410 Gone) is replaced by a re-list, whose differences from the
// cache are reported as synthesized changes. Errors back off exponentially up to a cap, and a
// watch that goes silent (no event, bookmark or close within stallMs: a connection that died
// without closing raises nothing) is restarted.
import type { Logger } from "@crowsnest/shared/agent";
import { KubeApiError, type KubeClient, type Query } from "@crowsnest/shared/kubernetes";
import { abortableSleep } from "@crowsnest/shared/util/abortable-sleep";
import { type BackoffOptions, CappedBackoff } from "@crowsnest/shared/util/capped-backoff";
import { field } from "@crowsnest/shared/util/json-fields";
import { OutageLog } from "@crowsnest/shared/util/outage-log";

export interface InformerChange<T> {
  readonly before: T | undefined;
  readonly after: T | undefined;
  /** True when found by a re-list rather than seen on the watch. */
  readonly synthesized: boolean;
}

export type SyncReason = "initial" | "relist";

export interface InformerOptions<T> {
  client: Pick<KubeClient, "getJson" | "watch">;
  /** For logs: `pods`, `nodes`, `services`. */
  resource: string;
  /** The collection's path, e.g. `/api/v1/pods`. */
  path: string;
  fieldSelector?: string | undefined;
  /** The pruned state of an object, or undefined when the object is malformed (it is skipped). */
  prune: (object: unknown) => (T & { readonly uid: string; readonly resourceVersion: string }) | undefined;
  /**
   * Told every change after the initial list, in order. Not told about the initial list:
   * there is nothing to compare it with.
   */
  onChange: (change: InformerChange<T>) => void;
  /** Told when a list has been applied (the cache is complete), with the list's resourceVersion. */
  onSynced?: (reason: SyncReason, resourceVersion: string) => void;
  logger: Logger;
  /** A watch without any event, bookmark or close for this long is restarted. */
  stallMs: number;
  /** Deadline of each list page. */
  requestTimeoutMs: number;
  pageSize?: number;
  backoff?: BackoffOptions;
}

export interface Informer<T> {
  start(): void;
  stop(): Promise<void>;
  /** The cache, by uid. */
  readonly items: ReadonlyMap<string, T>;
  /** Whether the last list or watch call succeeded and a list has been applied. */
  isConnected(): boolean;
}

class WatchStalledError extends Error {}

export function createInformer<T>(
  options: InformerOptions<T & { readonly uid: string; readonly resourceVersion: string }>,
): Informer<T> {
  type Item = T & { readonly uid: string; readonly resourceVersion: string };
  const { client, logger, resource } = options;
  const log = logger.child({ resource });
  const pageSize = options.pageSize ?? 500;
  const backoff = new CappedBackoff(options.backoff ?? { initialMs: 500, maxMs: 30_000 });
  const outage = new OutageLog({
    logger: log,
    failureMessage: "Kubernetes API calls fail; retrying with backoff",
    recoveryMessage: "Kubernetes API calls work again",
  });
  // The server ends a watch after timeoutSeconds (with a bookmark just before), well within the stall limit.
  const watchTimeoutSeconds = Math.max(1, Math.floor((options.stallMs * 2) / 3 / 1000));
  const items = new Map<string, Item>();
  const stopping = new AbortController();
  let loop: Promise<void> | undefined;
  let synced = false;
  let healthy = false;
  /** Where the next watch starts: the last list's, event's or bookmark's version; undefined: list first. */
  let resumeFrom: string | undefined;

  const selector: Query = options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector };

  const list = async (reason: SyncReason): Promise<string> => {
    const listed = new Map<string, Item>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await client.getJson(options.path, {
        query: { ...selector, limit: pageSize, continue: continueToken },
        timeoutMs: options.requestTimeoutMs,
        signal: stopping.signal,
      });
      const pageItems = field(page, "items");
      resourceVersion = stringOrUndefined(field(field(page, "metadata"), "resourceVersion"));
      if (!Array.isArray(pageItems) || resourceVersion === undefined) {
        throw new KubeApiError(200, "MalformedResponse", `listing ${resource}: the answer is not a list`);
      }
      let skipped = 0;
      for (const object of pageItems) {
        const item = options.prune(object);
        if (item === undefined) skipped += 1;
        else listed.set(item.uid, item);
      }
      if (skipped > 0) log.warn({ skipped }, "objects without uid, name or resourceVersion left out");
      continueToken = stringOrUndefined(field(field(page, "metadata"), "continue"));
    } while (continueToken !== undefined);
    if (reason === "relist") {
      for (const [uid, before] of items) {
        if (!listed.has(uid)) options.onChange({ before, after: undefined, synthesized: true });
      }
      for (const [uid, after] of listed) {
        const before = items.get(uid);
        if (before?.resourceVersion !== after.resourceVersion)
          options.onChange({ before, after, synthesized: true });
      }
    }
    items.clear();
    for (const [uid, item] of listed) items.set(uid, item);
    synced = true;
    log.debug({ reason, count: items.size, resource_version: resourceVersion }, "listed");
    options.onSynced?.(reason, resourceVersion);
    return resourceVersion;
  };

  /**
   * Follows one watch from `resumeFrom`, which every event and bookmark advances, so a watch
   * that breaks is resumed where it broke: resuming from an older version would replay events
   * the cache has already moved past.
   */
  const watch = async (from: string): Promise<void> => {
    const stall = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(), options.stallMs);
    };
    arm();
    const openedAtMs = Date.now();
    let received = 0;
    try {
      const events = client.watch(options.path, {
        query: {
          ...selector,
          resourceVersion: from,
          allowWatchBookmarks: true,
          timeoutSeconds: watchTimeoutSeconds,
        },
        signal: AbortSignal.any([stopping.signal, stall.signal]),
        timeoutMs: options.requestTimeoutMs,
        onOpen() {
          healthy = true;
          outage.succeeded();
        },
      });
      for await (const event of events) {
        arm();
        received += 1;
        healthy = true;
        outage.succeeded();
        backoff.reset();
        const version = stringOrUndefined(field(event.object.metadata, "resourceVersion"));
        if (event.type === "BOOKMARK") {
          if (version !== undefined) resumeFrom = version;
          continue;
        }
        const pruned = options.prune(event.object);
        if (pruned === undefined) {
          log.warn({ type: event.type }, "watch event without uid, name or resourceVersion skipped");
          continue;
        }
        resumeFrom = pruned.resourceVersion;
        const before = items.get(pruned.uid);
        if (event.type === "DELETED") {
          items.delete(pruned.uid);
          // The deleted object is its final state: changes not seen yet come first.
          if (before !== undefined && before.resourceVersion !== pruned.resourceVersion) {
            options.onChange({ before, after: pruned, synthesized: false });
          }
          options.onChange({ before: pruned, after: undefined, synthesized: false });
        } else {
          items.set(pruned.uid, pruned);
          options.onChange({ before, after: pruned, synthesized: false });
        }
      }
    } finally {
      clearTimeout(timer);
    }
    if (stopping.signal.aborted) return;
    if (stall.signal.aborted) throw new WatchStalledError(`no watch event for ${options.stallMs} ms`);
    // A server or proxy that ends every watch at once must not be asked again in a tight loop.
    if (received === 0 && Date.now() - openedAtMs < 1000)
      throw new Error("the watch ended at once without an event");
  };

  const run = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        if (resumeFrom === undefined) {
          resumeFrom = await list(synced ? "relist" : "initial");
          healthy = true;
          outage.succeeded();
          backoff.reset();
        }
        await watch(resumeFrom);
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof KubeApiError && error.isGone) {
          log.info({ resource_version: resumeFrom }, "watch history expired (410 Gone); re-listing");
          resumeFrom = undefined;
          continue;
        }
        healthy = false;
        if (error instanceof WatchStalledError)
          log.warn({ stall_ms: options.stallMs }, "watch stalled; restarting it");
        else outage.failed({ err: error });
        await abortableSleep(backoff.next(), stopping.signal);
      }
    }
  };

  return {
    start() {
      loop ??= run().catch((error: unknown) => log.error({ err: error }, "informer stopped by a bug"));
    },
    async stop() {
      stopping.abort();
      await loop;
    },
    items,
    isConnected: () => synced && healthy,
  };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
