// How often containers restarted since a time, from the lifecycle events the store keeps: the
// one source every runtime feeds (the runtimes' own counters are not stored, and Docker's
// RestartCount counts only its restart policy's restarts, not `docker restart` or a stop and
// start). What a restart is, is the store's view container_restarts (migration 0010), which its
// restart-loop alert counts too, so the two never disagree: a start after a die (Docker and
// others), a restart event (Kubernetes).
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
    SELECT container_id, count(*)::int AS restarts
    FROM container_restarts
    WHERE container_id = ANY(${containerIds}::bigint[]) AND ts >= ${since}
    GROUP BY container_id`.execute(db);
  return new Map(result.rows.map((row) => [Number(row.container_id), row.restarts]));
}
