// Evaluates alerts as samples and events are stored, and persists state and transitions.
//
// Ordering guarantee: a batch is evaluated after its samples are committed and before they are
// acknowledged, in one transaction that locks the containers' alert_states rows (FOR UPDATE,
// in id order), so evaluations of one container never interleave, across store instances too.
// Each container's samples are applied in ts order, and only samples newer than the last one
// evaluated (alert_states.evaluated_through): a redelivered batch changes nothing, and a batch
// that failed between commit and evaluation is evaluated when it is delivered again. With one
// store instance the stats consumer delivers in stream order, so every sample is evaluated in
// order. With several, a sample whose batch commits after a newer sample of the same container
// was evaluated (two of its samples in flight at two instances at once, e.g. while draining a
// backlog) is stored but not evaluated; it is counted in the log.
//
// Transitions go to alert_history in the same transaction; alert-publisher.ts publishes them
// from there (an outbox), so none is lost between commit and publish.
import type { EventMessage, Logger } from "@crowsnest/shared";
import { type Kysely, sql, type Transaction } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import type { AlertConfigCache, EffectiveSettings } from "./alert-config-cache.ts";
import {
  type AlertSample,
  applyOom,
  applyRestartCount,
  applySample,
  type ContainerAlertState,
  type FiredAlert,
  initialAlertState,
  type Transition,
} from "./alert-rules.ts";

export interface AlertEngineOptions {
  db: Kysely<StoreDatabase>;
  configs: AlertConfigCache;
  logger: Logger;
  /** Called after a commit that recorded transitions, so they are published promptly. */
  onTransitions?: () => void;
  now?: () => Date;
}

interface StateRow {
  container_id: number;
  state: ContainerAlertState["state"];
  cpu_breaches: number;
  mem_breaches: number;
  cpu_fired_at: Date | null;
  cpu_fired_value: number | null;
  cpu_fired_threshold: number | null;
  mem_fired_at: Date | null;
  mem_fired_value: number | null;
  mem_fired_threshold: number | null;
  restart_loop_fired_at: Date | null;
  restart_loop_fired_value: number | null;
  restart_loop_fired_threshold: number | null;
  last_oom_at: Date | null;
  evaluated_through: Date | null;
}

function fired(at: Date | null, value: number | null, threshold: number | null): FiredAlert | null {
  return at === null ? null : { at: at.toISOString(), value, threshold };
}

function fromRow(row: StateRow): ContainerAlertState {
  return {
    state: row.state,
    cpuBreaches: row.cpu_breaches,
    memBreaches: row.mem_breaches,
    cpuFired: fired(row.cpu_fired_at, row.cpu_fired_value, row.cpu_fired_threshold),
    memFired: fired(row.mem_fired_at, row.mem_fired_value, row.mem_fired_threshold),
    restartLoopFired: fired(
      row.restart_loop_fired_at,
      row.restart_loop_fired_value,
      row.restart_loop_fired_threshold,
    ),
    lastOomAt: row.last_oom_at?.toISOString() ?? null,
    evaluatedThrough: row.evaluated_through?.toISOString() ?? null,
  };
}

const RESTART_ACTIONS = new Set(["start", "restart"]);

function isOom(event: EventMessage): boolean {
  return event.action === "oom" || (event.action === "die" && event.oom_killed === true);
}

export class AlertEngine {
  readonly #db: Kysely<StoreDatabase>;
  readonly #configs: AlertConfigCache;
  readonly #logger: Logger;
  readonly #onTransitions: () => void;
  readonly #now: () => Date;
  #skippedLate = 0;

  constructor(options: AlertEngineOptions) {
    this.#db = options.db;
    this.#configs = options.configs;
    this.#logger = options.logger;
    this.#onTransitions = options.onTransitions ?? (() => undefined);
    this.#now = options.now ?? (() => new Date());
  }

  /** Samples arriving older than what was evaluated already (several instances racing), since start. */
  get skippedLateSamples(): number {
    return this.#skippedLate;
  }

  /** `containerIds[i]` is the stored id of `samples[i]`'s container. */
  async evaluateSamples(samples: readonly AlertSample[], containerIds: readonly number[]): Promise<void> {
    const snapshot = await this.#configs.get(containerIds);
    const byContainer = new Map<number, AlertSample[]>();
    samples.forEach((sample, index) => {
      const id = containerIds[index];
      if (id === undefined || !(snapshot.settings.has(id) || snapshot.attentive.has(id))) return;
      let list = byContainer.get(id);
      if (!list) {
        list = [];
        byContainer.set(id, list);
      }
      list.push(sample);
    });
    if (byContainer.size === 0) return;
    let skipped = 0;
    const transitions = await this.#withStates([...byContainer.keys()], (id, state) => {
      const settings = snapshot.settings.get(id);
      const list = (byContainer.get(id) ?? []).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
      const out: Transition[] = [];
      for (const sample of list) {
        if (state.evaluatedThrough !== null && sample.ts <= state.evaluatedThrough) {
          skipped += 1;
          continue;
        }
        out.push(...applySample(state, settings, sample));
      }
      return out;
    });
    // Redelivered samples are expected to be skipped; only count those newer than nothing evaluated.
    if (skipped > 0) {
      this.#skippedLate += skipped;
      this.#logger.debug({ skipped, total: this.#skippedLate }, "samples not newer than the evaluated ones");
    }
    this.#afterCommit(snapshot.attentive, transitions);
  }

  /** OOM kills and restart loops; `containerIds[i]` is the stored id of `events[i]`'s container. */
  async evaluateEvents(events: readonly EventMessage[], containerIds: readonly number[]): Promise<void> {
    const snapshot = await this.#configs.get(containerIds);
    const byContainer = new Map<number, EventMessage[]>();
    events.forEach((event, index) => {
      const id = containerIds[index];
      if (id === undefined || !snapshot.settings.has(id)) return;
      if (!isOom(event) && !RESTART_ACTIONS.has(event.action)) return;
      let list = byContainer.get(id);
      if (!list) {
        list = [];
        byContainer.set(id, list);
      }
      list.push(event);
    });
    if (byContainer.size === 0) return;
    const transitions = await this.#withStates([...byContainer.keys()], async (id, state, trx) => {
      const settings = snapshot.settings.get(id);
      const list = (byContainer.get(id) ?? []).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
      const out: Transition[] = [];
      for (const event of list) {
        if (!isOom(event)) continue;
        const transition = applyOom(state, settings, event.ts);
        if (transition) out.push(transition);
      }
      const newestStart = list.filter((event) => RESTART_ACTIONS.has(event.action)).at(-1);
      if (newestStart && settings?.restartLoopCount != null) {
        const restarts = await countRestarts(trx, id, newestStart.ts, settings.restartLoopWindowS);
        const transition = applyRestartCount(state, settings, restarts, newestStart.ts);
        if (transition) out.push(transition);
      }
      return out;
    });
    this.#afterCommit(snapshot.attentive, transitions);
  }

  /** Resolves restart loops whose window passed without enough restarts (or whose alerting was turned off). */
  async sweep(): Promise<void> {
    const firing = await sql<{ container_id: number }>`
      SELECT container_id FROM alert_states WHERE restart_loop_fired_at IS NOT NULL ORDER BY container_id`.execute(
      this.#db,
    );
    if (firing.rows.length === 0) return;
    const ids = firing.rows.map((row) => Number(row.container_id));
    const snapshot = await this.#configs.get(ids);
    const now = this.#now().toISOString();
    const transitions = await this.#withStates(ids, async (id, state, trx) => {
      const settings = snapshot.settings.get(id);
      const windowS = settings?.restartLoopWindowS ?? 600;
      const restarts = await countRestarts(trx, id, now, windowS);
      const transition = applyRestartCount(state, settings, restarts, now);
      return transition ? [transition] : [];
    });
    this.#afterCommit(snapshot.attentive, transitions);
  }

  #afterCommit(attentive: Set<number>, transitions: { containerId: number; transition: Transition }[]): void {
    if (transitions.length === 0) return;
    for (const { containerId, transition } of transitions) {
      if (transition.newState !== "normal" || transition.metric === "restart_loop")
        attentive.add(containerId);
    }
    this.#onTransitions();
  }

  /**
   * Locks (creating when missing) the alert states of `ids`, lets `step` change each and return
   * its transitions, then saves states and transitions, all in one transaction.
   */
  async #withStates(
    ids: number[],
    step: (
      id: number,
      state: ContainerAlertState,
      trx: Transaction<StoreDatabase>,
    ) => Transition[] | Promise<Transition[]>,
  ): Promise<{ containerId: number; transition: Transition }[]> {
    const sorted = [...new Set(ids)].sort((a, b) => a - b);
    return this.#db.transaction().execute(async (trx) => {
      await sql`
        INSERT INTO alert_states (container_id) SELECT unnest(${sorted}::bigint[])
        ON CONFLICT (container_id) DO NOTHING`.execute(trx);
      const rows = await sql<StateRow>`
        SELECT * FROM alert_states WHERE container_id = ANY(${sorted}::bigint[])
        ORDER BY container_id FOR UPDATE`.execute(trx);
      const states = new Map(rows.rows.map((row) => [Number(row.container_id), fromRow(row)]));
      const recorded: { containerId: number; transition: Transition }[] = [];
      for (const id of sorted) {
        const state = states.get(id) ?? initialAlertState();
        states.set(id, state);
        for (const transition of await step(id, state, trx)) recorded.push({ containerId: id, transition });
      }
      await saveStates(trx, states);
      if (recorded.length > 0) await insertTransitions(trx, recorded);
      return recorded;
    });
  }
}

/** Restarts of the container within the window ending at `ts` (the view container_restarts, migration 0010). */
async function countRestarts(
  trx: Transaction<StoreDatabase>,
  containerId: number,
  ts: string,
  windowS: number,
): Promise<number> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM container_restarts
    WHERE container_id = ${containerId}
      AND ts > ${ts}::timestamptz - make_interval(secs => ${windowS})
      AND ts <= ${ts}::timestamptz`.execute(trx);
  return result.rows[0]?.n ?? 0;
}

async function saveStates(trx: Transaction<StoreDatabase>, states: Map<number, ContainerAlertState>) {
  const entries = [...states.entries()];
  const pick = <T>(f: (state: ContainerAlertState) => T) => entries.map(([, state]) => f(state));
  await sql`
    UPDATE alert_states AS s SET
      state = u.state, cpu_breaches = u.cpu_breaches, mem_breaches = u.mem_breaches,
      cpu_fired_at = u.cpu_fired_at, cpu_fired_value = u.cpu_fired_value, cpu_fired_threshold = u.cpu_fired_threshold,
      mem_fired_at = u.mem_fired_at, mem_fired_value = u.mem_fired_value, mem_fired_threshold = u.mem_fired_threshold,
      restart_loop_fired_at = u.rl_at, restart_loop_fired_value = u.rl_value,
      restart_loop_fired_threshold = u.rl_threshold,
      last_oom_at = u.last_oom_at, evaluated_through = u.evaluated_through, updated_at = now()
    FROM unnest(
      ${entries.map(([id]) => id)}::bigint[],
      ${pick((s) => s.state)}::text[],
      ${pick((s) => s.cpuBreaches)}::integer[],
      ${pick((s) => s.memBreaches)}::integer[],
      ${pick((s) => s.cpuFired?.at ?? null)}::timestamptz[],
      ${pick((s) => s.cpuFired?.value ?? null)}::double precision[],
      ${pick((s) => s.cpuFired?.threshold ?? null)}::double precision[],
      ${pick((s) => s.memFired?.at ?? null)}::timestamptz[],
      ${pick((s) => s.memFired?.value ?? null)}::double precision[],
      ${pick((s) => s.memFired?.threshold ?? null)}::double precision[],
      ${pick((s) => s.restartLoopFired?.at ?? null)}::timestamptz[],
      ${pick((s) => s.restartLoopFired?.value ?? null)}::double precision[],
      ${pick((s) => s.restartLoopFired?.threshold ?? null)}::double precision[],
      ${pick((s) => s.lastOomAt)}::timestamptz[],
      ${pick((s) => s.evaluatedThrough)}::timestamptz[]
    ) AS u(id, state, cpu_breaches, mem_breaches, cpu_fired_at, cpu_fired_value, cpu_fired_threshold,
           mem_fired_at, mem_fired_value, mem_fired_threshold, rl_at, rl_value, rl_threshold,
           last_oom_at, evaluated_through)
    WHERE s.container_id = u.id`.execute(trx);
}

async function insertTransitions(
  trx: Transaction<StoreDatabase>,
  recorded: { containerId: number; transition: Transition }[],
) {
  const pick = <T>(f: (transition: Transition) => T) => recorded.map(({ transition }) => f(transition));
  await sql`
    INSERT INTO alert_history (container_id, ts, metric, change, value, threshold, previous_state, new_state)
    SELECT * FROM unnest(
      ${recorded.map(({ containerId }) => containerId)}::bigint[],
      ${pick((t) => t.ts)}::timestamptz[],
      ${pick((t) => t.metric)}::text[],
      ${pick((t) => t.change)}::text[],
      ${pick((t) => t.value)}::double precision[],
      ${pick((t) => t.threshold)}::double precision[],
      ${pick((t) => t.previousState)}::text[],
      ${pick((t) => t.newState)}::text[]
    )`.execute(trx);
}

export type { EffectiveSettings };
