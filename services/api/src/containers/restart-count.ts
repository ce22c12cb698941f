// How often containers restarted since a time, from the lifecycle events the store keeps: the
// one source every runtime feeds (the runtimes' own counters are not stored, and Docker's
// RestartCount counts only its restart policy's restarts, not `docker restart` or a stop and
// start). A restart is a new run of the same container:
// - Docker (and any runtime but Kubernetes): a `start` that follows a `die` of the container.
//   Its first start is no restart; `docker restart` (die, start, restart) counts once.
// - Kubernetes: a `restart` event. The watcher publishes one per step of the kubelet's
//   restartCount, also the steps it missed while down, which have no `start` of their own.
import { type Kysely, sql } from "kysely";
import type { ApiDatabase } from "../db/api-database.ts";

/** Restarts of each container at or after `since`; containers without any are left out. */
export async function countRestarts(
  db: Kysely<ApiDatabase>,
  containerIds: readonly number[],
  since: Date,
): Promise<Map<number, number>> {
  if (containerIds.length === 0) return new Map();
  const result = await sql<{ container_id: string | number; restarts: number }>`
    SELECT e.container_id, count(*)::int AS restarts
    FROM container_events AS e
    JOIN containers AS c ON c.id = e.container_id
    WHERE e.container_id = ANY(${containerIds}::bigint[])
      AND e.ts >= ${since}
      AND CASE WHEN c.runtime = 'kubernetes' THEN e.action = 'restart'
        ELSE e.action = 'start' AND EXISTS (
          SELECT FROM container_events AS d
          WHERE d.container_id = e.container_id AND d.action = 'die' AND d.ts < e.ts)
      END
    GROUP BY e.container_id`.execute(db);
  return new Map(result.rows.map((row) => [Number(row.container_id), row.restarts]));
}
