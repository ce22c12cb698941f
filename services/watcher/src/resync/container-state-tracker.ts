// What the watcher last knew about every container, and the transitions it missed.
//
// Real events keep the map current. After a reconnect, the fresh look at every container is
// compared with it and the difference is published as synthesized events: dockerd's replay
// buffer holds only 256 events and is lost when dockerd restarts, so a container can start, die,
// pause or disappear without the watcher ever seeing the event. After a restart of the watcher
// the map is restored from what it recorded on the bus (restore(), see recovery/), and the same
// comparison yields what happened while it was not running. Pure (no I/O, the clock is passed
// in), so every case is unit-tested.
//
// Never double-reporting: the replayed events are applied before the comparison, so what they
// delivered is not synthesized. Events that happened just before the look but arrive after the
// comparison (the stream is read while the containers are inspected) would repeat a synthesized
// transition; for a short while after synthesizing, a real event that matches the next
// synthesized transition of its container is recognized as that one and dropped.
import type { ContainerState, EventMessage, HealthStatus, Runtime } from "@crowsnest/shared/agent";
import { missedTransitions } from "../recovery/missed-transitions.ts";
import { msToNanos, nanosToTimestamp } from "../time/nano-time.ts";

/** One container as the resynchronization saw it. */
export interface ContainerSnapshot {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: ContainerState;
  /** False when only the list entry was available: no times, exit code or health. */
  readonly detailed: boolean;
  readonly createdNano: bigint | undefined;
  readonly startedNano: bigint | undefined;
  readonly finishedNano: bigint | undefined;
  readonly exitCode: number | null;
  readonly oomKilled: boolean | null;
  /** Null: no health check (or not known). */
  readonly health: HealthStatus | null;
}

type Phase = "created" | "running" | "paused" | "down" | "gone";

/** What the watcher knows of a container, as it records it on the bus to resume from after a restart. */
export interface RememberedContainer {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly phase: Exclude<Phase, "gone">;
  /** See KnownContainer.lastStartNano. */
  readonly lastStartNano: bigint | undefined;
  readonly health: HealthStatus | null;
}

/** A container as recovered after a restart, with when the watcher recorded it (its clock, ms). */
export interface RecoveredContainer {
  readonly container: RememberedContainer;
  readonly recordedAtMs: number;
}

interface PendingTransition {
  readonly action: string;
  /** The health status or new name the transition carries, which a matching real event must have too. */
  readonly detail: string | undefined;
}

interface KnownContainer {
  name: string;
  image: string;
  labels: Readonly<Record<string, string>>;
  phase: Phase;
  /**
   * An upper bound of the current (or last) run's start: inspect's exact StartedAt, or the time
   * of the start event, which dockerd logs just after setting StartedAt. A later StartedAt is a
   * later run.
   */
  lastStartNano: bigint | undefined;
  health: HealthStatus | null;
  pending: PendingTransition[];
  pendingUntilMs: number;
  /**
   * Set while the entry is still as restored after a restart: when the watcher recorded it. A
   * transition with no runtime time of its own is then keyed by it instead of the clock, so a
   * repeated recovery from the same record yields the same event id.
   */
  recordedAtMs: number | undefined;
}

export interface ReconcileContext {
  readonly host: string;
  readonly nowMs: number;
}

export interface ContainerStateTrackerOptions {
  /** The runtime whose containers are tracked: the synthesized events' runtime and id. */
  runtime: Runtime;
  /** How long after synthesizing a real event can still be the same transition arriving late. */
  duplicateWindowMs?: number;
}

/** Actions the tracker synthesizes; only these can be duplicates, and only these end the window. */
const TRANSITIONS: ReadonlySet<string> = new Set([
  "create",
  "start",
  "die",
  "pause",
  "unpause",
  "destroy",
  "rename",
  "health_status",
]);

function phaseOf(state: ContainerState): Phase | undefined {
  switch (state) {
    case "created":
      return "created";
    case "running":
      return "running";
    case "paused":
      return "paused";
    case "exited":
    case "dead":
    case "restarting":
    case "removing":
      return "down";
    default:
      return undefined;
  }
}

const isUp = (phase: Phase | undefined): boolean => phase === "running" || phase === "paused";

function eventNanos(event: EventMessage): bigint | undefined {
  return event.ts_nano === null ? undefined : BigInt(event.ts_nano);
}

type TsSource = "created" | "started_at" | "finished_at" | "next_start" | "resync";

interface Synthesis {
  readonly action: string;
  /** Makes the event id unique and stable: a runtime time, or what was seen. */
  readonly key: string;
  /**
   * The transition can happen again in the container's life with the same key (a pause, a
   * rename, a time Docker did not give): the resync's time is added to the id.
   */
  readonly repeatable?: boolean;
  readonly tsNano: bigint | undefined;
  readonly tsSource: TsSource;
  readonly exitCode?: number | null;
  readonly oomKilled?: boolean | null;
  readonly health?: HealthStatus;
  readonly attributes?: Readonly<Record<string, string>>;
  /** Only for the pending list: health status or new name. */
  readonly detail?: string;
}

export class ContainerStateTracker {
  readonly #known = new Map<string, KnownContainer>();
  readonly #duplicateWindowMs: number;
  readonly #runtime: Runtime;
  #seeded = false;
  #restored = false;
  /** Set by restore() until the next reconcile: when the record as a whole was made. */
  #restoredRecordAtMs: number | undefined;

  constructor(options: ContainerStateTrackerOptions) {
    this.#runtime = options.runtime;
    this.#duplicateWindowMs = options.duplicateWindowMs ?? 30_000;
  }

  /** Whether a first look at the host has been taken; until then there is nothing to compare with. */
  get seeded(): boolean {
    return this.#seeded;
  }

  get size(): number {
    return this.#known.size;
  }

  /** Whether the map was restored after a restart and not compared with the host since. */
  get restored(): boolean {
    return this.#restored;
  }

  /**
   * Takes in what the watcher recorded before it last stopped, as if it had never stopped: the
   * next reconcile() compares the host with it and returns what was missed meanwhile.
   */
  restore(recovered: ReadonlyMap<string, RecoveredContainer>, recordedAtMs: number): void {
    this.#known.clear();
    for (const [id, { container, recordedAtMs }] of recovered) {
      this.#known.set(id, {
        name: container.name,
        image: container.image,
        labels: container.labels,
        phase: container.phase,
        lastStartNano: container.lastStartNano,
        health: container.health,
        pending: [],
        pendingUntilMs: 0,
        recordedAtMs,
      });
    }
    this.#seeded = true;
    this.#restored = true;
    this.#restoredRecordAtMs = recordedAtMs;
  }

  /** What is known of one container now; undefined when it is not known (or gone). */
  remembered(id: string): RememberedContainer | undefined {
    const known = this.#known.get(id);
    if (known === undefined || known.phase === "gone") return undefined;
    return {
      name: known.name,
      image: known.image,
      labels: known.labels,
      phase: known.phase,
      lastStartNano: known.lastStartNano,
      health: known.health,
    };
  }

  /** What is known of every container now (none that are gone). */
  rememberedAll(): Map<string, RememberedContainer> {
    const all = new Map<string, RememberedContainer>();
    for (const id of this.#known.keys()) {
      const remembered = this.remembered(id);
      if (remembered !== undefined) all.set(id, remembered);
    }
    return all;
  }

  /**
   * Applies a real event, in stream order. Returns false when it is a transition that was
   * already published as synthesized (it must then not be published again).
   */
  observeEvent(event: EventMessage, nowMs: number): boolean {
    const id = event.actor.external_id;
    const known = this.#known.get(id);
    if (known !== undefined && TRANSITIONS.has(event.action) && known.pending.length > 0) {
      if (nowMs <= known.pendingUntilMs) {
        const detail = event.action === "health_status" ? (event.health_status ?? undefined) : undefined;
        const index = known.pending.findIndex(
          (pending) =>
            pending.action === event.action &&
            (pending.detail === undefined ||
              pending.detail === (event.action === "rename" ? event.actor.name : detail)),
        );
        if (index !== -1) {
          known.pending.splice(0, index + 1);
          return false;
        }
      }
      // A different transition: whatever was synthesized has been overtaken.
      known.pending = [];
    }
    this.#apply(event, known);
    return true;
  }

  #apply(event: EventMessage, known: KnownContainer | undefined): void {
    const id = event.actor.external_id;
    const entry: KnownContainer = known ?? {
      name: event.actor.name,
      image: event.image ?? "",
      labels: {},
      phase: "created",
      lastStartNano: undefined,
      health: null,
      pending: [],
      pendingUntilMs: 0,
      recordedAtMs: undefined,
    };
    // Live from now on: what it was restored from no longer describes it.
    entry.recordedAtMs = undefined;
    switch (event.action) {
      case "start":
        entry.phase = "running";
        entry.lastStartNano = eventNanos(event) ?? entry.lastStartNano;
        break;
      case "die":
        entry.phase = "down";
        break;
      case "pause":
        entry.phase = "paused";
        break;
      case "unpause":
        entry.phase = "running";
        break;
      case "rename":
        entry.name = event.actor.name;
        break;
      case "health_status":
        entry.health = event.health_status;
        break;
      case "destroy":
        this.#known.delete(id);
        return;
      case "create":
        break;
      default:
        // kill, stop, oom, restart: no change of state of their own (a die follows).
        if (known === undefined) return;
        break;
    }
    if (event.actor.name !== "") entry.name = event.actor.name;
    this.#known.set(id, entry);
  }

  /**
   * Takes in a fresh look at every container. The first call (or `seed: true`) only records it;
   * later ones (and the first after restore()) return the transitions missed since the map was
   * last current, in order per container, ready to publish.
   */
  reconcile(
    snapshots: readonly ContainerSnapshot[],
    context: ReconcileContext,
    options: { seed?: boolean } = {},
  ): EventMessage[] {
    const diff = this.#seeded && options.seed !== true;
    this.#seeded = true;
    this.#restored = false;
    const current = new Map<string, ContainerSnapshot>();
    for (const snapshot of snapshots) current.set(snapshot.id, snapshot);
    // Without a runtime time, keyed by when the state compared with was recorded if it was
    // restored (the same for a repeated recovery), else by this look's time.
    const repeatKeyMs = (known: KnownContainer | undefined): number =>
      known?.recordedAtMs ?? this.#restoredRecordAtMs ?? context.nowMs;
    // A copy: reconciling one container replaces its entry.
    const events = missedTransitions(new Map(this.#known), current, (id, known, snapshot) =>
      snapshot === undefined
        ? this.#reconcileGone(id, known, diff, context, repeatKeyMs(known))
        : this.#reconcilePresent(id, known, snapshot, diff, context, repeatKeyMs(known)),
    );
    this.#restoredRecordAtMs = undefined;
    return events;
  }

  #reconcilePresent(
    id: string,
    known: KnownContainer | undefined,
    snapshot: ContainerSnapshot,
    diff: boolean,
    context: ReconcileContext,
    repeatKeyMs: number,
  ): EventMessage[] {
    const phase = phaseOf(snapshot.state);
    // A state Docker has no word for: nothing can be said; keep what was known.
    if (phase === undefined) return [];
    const syntheses = diff ? this.#diff(known?.phase === "gone" ? undefined : known, snapshot, phase) : [];
    const next: KnownContainer = {
      name: snapshot.name,
      image: snapshot.image,
      labels: snapshot.labels,
      phase,
      lastStartNano: snapshot.startedNano ?? known?.lastStartNano,
      health: snapshot.detailed ? snapshot.health : (known?.health ?? null),
      pending: syntheses.map((synthesis) => ({ action: synthesis.action, detail: synthesis.detail })),
      pendingUntilMs: context.nowMs + this.#duplicateWindowMs,
      recordedAtMs: undefined,
    };
    this.#known.set(id, next);
    return syntheses.map((synthesis) => this.#event(id, next, synthesis, context, repeatKeyMs));
  }

  #reconcileGone(
    id: string,
    known: KnownContainer | undefined,
    diff: boolean,
    context: ReconcileContext,
    repeatKeyMs: number,
  ): EventMessage[] {
    if (known === undefined) return [];
    if (!diff || known.phase === "gone") {
      this.#known.delete(id);
      return [];
    }
    // Removed while the watcher was not looking. It must have stopped first.
    const syntheses: Synthesis[] = [];
    if (isUp(known.phase)) {
      syntheses.push({
        action: "die",
        key: "before-destroy",
        tsNano: undefined,
        tsSource: "resync",
        exitCode: null,
        oomKilled: null,
      });
    }
    syntheses.push({ action: "destroy", key: "gone", tsNano: undefined, tsSource: "resync" });
    // Kept as a tombstone until the next look, so a late real destroy is recognized.
    const tombstone: KnownContainer = {
      ...known,
      phase: "gone",
      pending: syntheses.map((synthesis) => ({ action: synthesis.action, detail: undefined })),
      pendingUntilMs: context.nowMs + this.#duplicateWindowMs,
      recordedAtMs: undefined,
    };
    this.#known.set(id, tombstone);
    return syntheses.map((synthesis) => this.#event(id, tombstone, synthesis, context, repeatKeyMs));
  }

  #diff(known: KnownContainer | undefined, snapshot: ContainerSnapshot, phase: Phase): Synthesis[] {
    const out: Synthesis[] = [];
    const start = (): Synthesis => ({
      action: "start",
      key: snapshot.startedNano === undefined ? "unknown-start" : `${snapshot.startedNano}`,
      repeatable: snapshot.startedNano === undefined,
      tsNano: snapshot.startedNano,
      tsSource: snapshot.startedNano === undefined ? "resync" : "started_at",
    });
    const finalDie = (): Synthesis => ({
      action: "die",
      key: snapshot.finishedNano === undefined ? "unknown-finish" : `${snapshot.finishedNano}`,
      repeatable: snapshot.finishedNano === undefined,
      tsNano: snapshot.finishedNano,
      tsSource: snapshot.finishedNano === undefined ? "resync" : "finished_at",
      exitCode: snapshot.detailed ? snapshot.exitCode : null,
      oomKilled: snapshot.detailed ? snapshot.oomKilled : null,
    });
    const pause = (): Synthesis => ({
      action: "pause",
      key: "paused",
      repeatable: true,
      tsNano: undefined,
      tsSource: "resync",
    });
    const health = (from: HealthStatus | null): void => {
      const status = snapshot.health;
      // `starting` is where every health check begins, not a change worth reporting.
      if (!isUp(phase) || status === null || status === "none" || status === "starting" || status === from) {
        return;
      }
      out.push({
        action: "health_status",
        key: status,
        repeatable: true,
        tsNano: undefined,
        tsSource: "resync",
        health: status,
        detail: status,
      });
    };

    if (known === undefined) {
      // Created while the watcher was not looking.
      out.push({
        action: "create",
        key: snapshot.createdNano === undefined ? "unknown-create" : `${snapshot.createdNano}`,
        tsNano: snapshot.createdNano,
        tsSource: snapshot.createdNano === undefined ? "resync" : "created",
      });
      if (snapshot.startedNano !== undefined || isUp(phase)) {
        out.push(start());
        if (phase === "paused") out.push(pause());
        if (phase === "down") out.push(finalDie());
      }
      health(null);
      return out;
    }

    if (snapshot.name !== "" && snapshot.name !== known.name) {
      out.push({
        action: "rename",
        key: snapshot.name,
        repeatable: true,
        tsNano: undefined,
        tsSource: "resync",
        attributes: { oldName: `/${known.name}` },
        detail: snapshot.name,
      });
    }
    const wasUp = isUp(known.phase);
    const newRun =
      snapshot.startedNano !== undefined &&
      (known.lastStartNano === undefined
        ? known.phase === "created"
        : snapshot.startedNano > known.lastStartNano);
    if (newRun || (!wasUp && isUp(phase))) {
      if (wasUp) {
        // The run the watcher knew ended before this one began. Docker's FinishedAt is the end of
        // the newest run that ended, which is that one only when the container is up again.
        const finished = snapshot.finishedNano;
        const finishedIsThatRun =
          isUp(phase) &&
          finished !== undefined &&
          (snapshot.startedNano === undefined || finished <= snapshot.startedNano);
        out.push({
          action: "die",
          key: finishedIsThatRun ? `${finished}` : `before-${snapshot.startedNano ?? "unknown-start"}`,
          repeatable: !finishedIsThatRun && snapshot.startedNano === undefined,
          tsNano: finishedIsThatRun ? finished : snapshot.startedNano,
          tsSource: finishedIsThatRun
            ? "finished_at"
            : snapshot.startedNano === undefined
              ? "resync"
              : "next_start",
          exitCode: null,
          oomKilled: null,
        });
      }
      out.push(start());
      if (phase === "paused") out.push(pause());
      if (phase === "down") out.push(finalDie());
    } else if (wasUp && phase === "down") {
      out.push(finalDie());
    } else if (known.phase === "running" && phase === "paused") {
      out.push(pause());
    } else if (known.phase === "paused" && phase === "running") {
      out.push({
        action: "unpause",
        key: "running",
        repeatable: true,
        tsNano: undefined,
        tsSource: "resync",
      });
    }
    health(known.health);
    return out;
  }

  #event(
    id: string,
    known: KnownContainer,
    synthesis: Synthesis,
    context: ReconcileContext,
    repeatKeyMs: number,
  ): EventMessage {
    const resyncNano = msToNanos(context.nowMs);
    const tsNano = synthesis.tsNano ?? resyncNano;
    const exitCode = synthesis.exitCode ?? null;
    const attributes: Record<string, string> = {
      ...known.labels,
      image: known.image,
      name: known.name,
      ...synthesis.attributes,
      ts_source: synthesis.tsSource,
    };
    if (synthesis.action === "die" && exitCode !== null) attributes.exitCode = String(exitCode);
    // Stable: the same inference from the same runtime times gets the same id (and JetStream
    // message id), and "synthesized" where a real id has its nanoseconds keeps the two apart.
    const key = synthesis.repeatable === true ? `${synthesis.key}@${repeatKeyMs}` : synthesis.key;
    return {
      v: 1,
      event_id: `${context.host}/${this.#runtime}/synthesized/${id}/${synthesis.action}/${key}`,
      host: context.host,
      runtime: this.#runtime,
      kind: "container",
      action: synthesis.action,
      actor: { external_id: id, name: known.name },
      ts: nanosToTimestamp(tsNano),
      ts_nano: synthesis.tsNano === undefined ? null : synthesis.tsNano.toString(),
      image: known.image === "" ? null : known.image,
      exit_code: synthesis.action === "die" ? exitCode : null,
      oom_killed: synthesis.action === "die" ? (synthesis.oomKilled ?? null) : null,
      signal: null,
      health_status: synthesis.health ?? null,
      synthesized: true,
      attributes,
    };
  }
}
