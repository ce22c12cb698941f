// Remembers each container's limits (and, for the cgroup fast path, its PID, network mode and
// cgroup parent), so a tick inspects only the containers that are new, were
// restarted, or whose entry is older than the TTL, rather than every container every tick.
//
// The container list carries no StartedAt, so a restart is recognized from the stats (the CPU
// counter went backwards) and the caller asks for a refresh; the TTL catches `docker update`,
// which changes limits of a running container without restarting it. Each inspect also tells
// whether StartedAt moved since the previous one, which catches a restart the counters hid.
//
// On the cgroup path the container's limit files stand in for the TTL's inspect (confirm()):
// while they say what they said just after the inspect, its limits are still in force, and the
// entry counts as fresh again. A `docker update` then shows at the next check of the files, and a
// host whose containers do not change is not inspected at all.
import type { ContainerLimits } from "../../core/container-limits.ts";
import { type ContainerProcess, processFromInspect } from "./container-process.ts";
import { limitsFromInspect, startedAtFromInspect } from "./inspect-limits.ts";

export const DEFAULT_LIMITS_TTL_MS = 5 * 60_000;

interface CacheEntry {
  limits: ContainerLimits;
  process: ContainerProcess;
  startedAt: string | null;
  fetchedAtMs: number;
  /** What the limit files said first after the inspect (confirm()); undefined until then. */
  fileLimits: string | undefined;
  /** The answer from the cache, made once per entry: peek() gives it for every container every tick. */
  cached: LimitsLookup | undefined;
}

/** Shared by every answer from the same cache entry: read, never changed. */
export interface LimitsLookup {
  readonly limits: ContainerLimits;
  readonly process: ContainerProcess;
  /** This lookup inspected the container and found a StartedAt other than the cached one. */
  readonly restarted: boolean;
  /** This lookup inspected the container. */
  readonly inspected: boolean;
}

export interface LimitsCacheOptions {
  /** Inspects one container (bounded by the caller's timeout); rejects when it cannot. */
  inspect: (id: string) => Promise<unknown>;
  ttlMs?: number;
  now?: () => number;
}

export class LimitsCache {
  readonly #inspect: (id: string) => Promise<unknown>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, CacheEntry>();

  constructor(options: LimitsCacheOptions) {
    this.#inspect = options.inspect;
    this.#ttlMs = options.ttlMs ?? DEFAULT_LIMITS_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The container's limits, inspecting it when there is no fresh entry or `refresh` is set. If that
   * inspect fails, an older entry is still the best answer (limits rarely change); with none, it throws.
   */
  async get(id: string, options: { refresh: boolean } = { refresh: false }): Promise<LimitsLookup> {
    const cached = this.#entries.get(id);
    if (cached && !options.refresh && this.#now() - cached.fetchedAtMs < this.#ttlMs) {
      return cachedLookup(cached);
    }
    let inspect: unknown;
    try {
      inspect = await this.#inspect(id);
    } catch (error) {
      if (cached) return cachedLookup(cached);
      throw error;
    }
    const entry: CacheEntry = {
      limits: limitsFromInspect(inspect),
      process: processFromInspect(inspect),
      startedAt: startedAtFromInspect(inspect),
      fetchedAtMs: this.#now(),
      fileLimits: undefined,
      cached: undefined,
    };
    this.#entries.set(id, entry);
    const restarted = cached !== undefined && cached.startedAt !== entry.startedAt;
    return { limits: entry.limits, process: entry.process, restarted, inspected: true };
  }

  /** The cached answer while it is fresh, without inspecting: undefined when get() would inspect. */
  peek(id: string): LimitsLookup | undefined {
    const cached = this.#entries.get(id);
    if (!cached || this.#now() - cached.fetchedAtMs >= this.#ttlMs) return undefined;
    return cachedLookup(cached);
  }

  /**
   * The container's limit files say `fileLimits` now (ContainerFileReader.limitsSignature). The
   * first answer after an inspect is recorded with it; while later ones are the same, the entry
   * counts as fresh again. False when they differ (a `docker update`, a new run): inspect again.
   */
  confirm(id: string, fileLimits: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    if (entry.fileLimits === undefined) entry.fileLimits = fileLimits;
    else if (entry.fileLimits !== fileLimits) return false;
    entry.fetchedAtMs = this.#now();
    return true;
  }

  /** Drops every container not in `ids`: containers that are gone never come back under the same id. */
  retainOnly(ids: ReadonlySet<string>): void {
    // forEach, not for-of: no iterator result per container every tick.
    this.#entries.forEach((_entry, id) => {
      if (!ids.has(id)) this.#entries.delete(id);
    });
  }

  get size(): number {
    return this.#entries.size;
  }
}

function cachedLookup(entry: CacheEntry): LimitsLookup {
  entry.cached ??= { limits: entry.limits, process: entry.process, restarted: false, inspected: false };
  return entry.cached;
}
