// Writes lifecycle events (once each, by event_id; returns each one's container id) and moves each container's current state
// forward. State only moves to newer news: an event older than what set the current state
// (a late redelivery, or an inventory taken after it) does not overwrite it.
import type { EventMessage } from "@crowsnest/shared";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import type { ContainerDirectory } from "./container-directory.ts";
import { identityKey } from "./container-identity.ts";
import { stateAfter } from "./container-state.ts";

/**
 * What one batch says about one container, folded over its events in time order, so a
 * `die` followed by `stop` in the same batch keeps the exit code of the `die`.
 */
interface ContainerUpdate {
  id: number;
  name: string;
  image: string | null;
  seenAt: string;
  /** Time of the newest state-changing event; null when the batch has none. */
  stateTs: string | null;
  state: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Whether the batch decided the exit code (a die sets it, a start clears it). */
  exitCodeSet: boolean;
  exitCode: number | null;
  healthStatus: string | null;
  destroyedAt: string | null;
}

function compareEventTime(a: EventMessage, b: EventMessage): number {
  if (a.ts_nano !== null && b.ts_nano !== null) {
    const diff = BigInt(a.ts_nano) - BigInt(b.ts_nano);
    return diff === 0n ? 0 : diff > 0n ? 1 : -1;
  }
  return a.ts.localeCompare(b.ts);
}

function fold(update: ContainerUpdate, event: EventMessage): void {
  update.seenAt = event.ts;
  update.name = event.actor.name;
  update.image = event.image ?? update.image;
  const state = stateAfter(event.action);
  if (state !== undefined) {
    update.state = state;
    update.stateTs = event.ts;
  }
  switch (event.action) {
    case "start":
    case "restart":
      update.startedAt = event.ts;
      update.exitCodeSet = true;
      update.exitCode = null;
      break;
    case "die":
      update.finishedAt = event.ts;
      update.exitCodeSet = true;
      update.exitCode = event.exit_code;
      break;
    case "health_status":
      update.healthStatus = event.health_status ?? update.healthStatus;
      break;
    case "destroy":
      update.destroyedAt = event.ts;
      break;
    default:
      break;
  }
}

export async function writeEvents(
  db: Kysely<StoreDatabase>,
  directory: ContainerDirectory,
  events: readonly EventMessage[],
): Promise<number[]> {
  const ids = await directory.resolve(
    events.map((event) => ({
      host: event.host,
      runtime: event.runtime,
      external_id: event.actor.external_id,
      name: event.actor.name,
      seenAt: event.ts,
    })),
  );
  const idOf = (event: EventMessage): number => {
    const key = identityKey({
      host: event.host,
      runtime: event.runtime,
      external_id: event.actor.external_id,
    });
    const id = ids.get(key);
    if (id === undefined) throw new Error(`no container id for ${key}`);
    return id;
  };

  const updates = new Map<number, ContainerUpdate>();
  for (const event of [...events].sort(compareEventTime)) {
    const id = idOf(event);
    let update = updates.get(id);
    if (!update) {
      update = {
        id,
        name: event.actor.name,
        image: event.image,
        seenAt: event.ts,
        stateTs: null,
        state: null,
        startedAt: null,
        finishedAt: null,
        exitCodeSet: false,
        exitCode: null,
        healthStatus: null,
        destroyedAt: null,
      };
      updates.set(id, update);
    }
    fold(update, event);
  }

  await db.transaction().execute(async (trx) => {
    await sql`
      INSERT INTO container_events (
        event_id, container_id, ts, ts_nano, kind, action, exit_code, oom_killed, signal,
        health_status, synthesized, image, attributes
      )
      SELECT * FROM unnest(
        ${events.map((event) => event.event_id)}::text[],
        ${events.map(idOf)}::bigint[],
        ${events.map((event) => event.ts)}::timestamptz[],
        ${events.map((event) => event.ts_nano)}::numeric[],
        ${events.map((event) => event.kind)}::text[],
        ${events.map((event) => event.action)}::text[],
        ${events.map((event) => event.exit_code)}::integer[],
        ${events.map((event) => event.oom_killed)}::boolean[],
        ${events.map((event) => event.signal)}::text[],
        ${events.map((event) => event.health_status)}::text[],
        ${events.map((event) => event.synthesized)}::boolean[],
        ${events.map((event) => event.image)}::text[],
        ${events.map((event) => JSON.stringify(event.attributes))}::jsonb[]
      )
      ON CONFLICT (event_id) DO NOTHING`.execute(trx);

    // Sorted by id so concurrent store instances lock containers in the same order.
    const rows = [...updates.values()].sort((a, b) => a.id - b.id);
    const lifecycleIsNewer = sql`u.state_ts IS NOT NULL
      AND (c.state_changed_at IS NULL OR c.state_changed_at <= u.state_ts)`;
    await sql`
      UPDATE containers AS c SET
        name = u.name,
        image = COALESCE(u.image, c.image),
        last_seen = GREATEST(c.last_seen, u.seen_at),
        health_status = COALESCE(u.health_status, c.health_status),
        state = CASE WHEN ${lifecycleIsNewer} THEN u.state ELSE c.state END,
        started_at = CASE WHEN ${lifecycleIsNewer} THEN COALESCE(u.started_at, c.started_at) ELSE c.started_at END,
        finished_at = CASE WHEN ${lifecycleIsNewer} THEN COALESCE(u.finished_at, c.finished_at) ELSE c.finished_at END,
        exit_code = CASE WHEN ${lifecycleIsNewer} AND u.exit_code_set THEN u.exit_code ELSE c.exit_code END,
        state_changed_at = CASE WHEN ${lifecycleIsNewer} THEN u.state_ts ELSE c.state_changed_at END,
        gone_at = CASE WHEN u.destroyed_at IS NOT NULL THEN u.destroyed_at
          WHEN ${lifecycleIsNewer} THEN NULL ELSE c.gone_at END
      FROM unnest(
        ${rows.map((row) => row.id)}::bigint[],
        ${rows.map((row) => row.name)}::text[],
        ${rows.map((row) => row.image)}::text[],
        ${rows.map((row) => row.seenAt)}::timestamptz[],
        ${rows.map((row) => row.state)}::text[],
        ${rows.map((row) => row.stateTs)}::timestamptz[],
        ${rows.map((row) => row.startedAt)}::timestamptz[],
        ${rows.map((row) => row.finishedAt)}::timestamptz[],
        ${rows.map((row) => row.exitCodeSet)}::boolean[],
        ${rows.map((row) => row.exitCode)}::integer[],
        ${rows.map((row) => row.healthStatus)}::text[],
        ${rows.map((row) => row.destroyedAt)}::timestamptz[]
      ) AS u(id, name, image, seen_at, state, state_ts, started_at, finished_at, exit_code_set, exit_code,
             health_status, destroyed_at)
      WHERE c.id = u.id`.execute(trx);
  });
  return events.map(idOf);
}
