// One page of lifecycle events, newest first, by keyset on (ts, id): used by the global
// listing and the per-container one, so both page and filter the same way.
import { z } from "@hono/zod-openapi";
import { type Kysely, sql } from "kysely";
import { type EventJson, eventJson, toEventJson } from "../containers/container-json.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import { encodeCursor, keysetCursorParam, limitParam, timestampParam } from "../http/params.ts";

const actionWord = z.string().regex(/^[a-z][a-z_]{0,63}$/, "must be a lower-case action word");

/** Query parameters every event listing accepts. */
export const eventFilterQuery = {
  action: actionWord.optional(),
  from: timestampParam.optional().openapi({ description: "Events at or after this time." }),
  to: timestampParam.optional().openapi({ description: "Events before this time." }),
  limit: limitParam({ default: 100, max: 500 }),
  cursor: keysetCursorParam.optional(),
};

export interface EventFilters {
  containerId?: number | undefined;
  host?: string | undefined;
  kind?: string | undefined;
  action?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit: number;
  cursor?: { before_ts: string; before_id: number } | undefined;
}

export const eventPageJson = z.object({ data: z.array(eventJson), next_cursor: z.string().nullable() });

export async function queryEventPage(
  db: Kysely<ApiDatabase>,
  filters: EventFilters,
): Promise<{ data: EventJson[]; next_cursor: string | null }> {
  let select = db
    .selectFrom("container_events as e")
    .select([
      "e.id",
      "e.container_id",
      "e.ts",
      sql<string | null>`e.ts_nano::text`.as("ts_nano"),
      "e.kind",
      "e.action",
      "e.exit_code",
      "e.oom_killed",
      "e.signal",
      "e.health_status",
      "e.synthesized",
      "e.image",
      "e.attributes",
    ])
    .orderBy("e.ts", "desc")
    .orderBy("e.id", "desc")
    .limit(filters.limit + 1);
  if (filters.containerId !== undefined) select = select.where("e.container_id", "=", filters.containerId);
  if (filters.host !== undefined) {
    const host = filters.host;
    select = select.where("e.container_id", "in", (sub) =>
      sub.selectFrom("containers").select("id").where("host", "=", host),
    );
  }
  if (filters.kind !== undefined) select = select.where("e.kind", "=", filters.kind);
  if (filters.action !== undefined) select = select.where("e.action", "=", filters.action);
  if (filters.from !== undefined) select = select.where("e.ts", ">=", new Date(filters.from));
  if (filters.to !== undefined) select = select.where("e.ts", "<", new Date(filters.to));
  if (filters.cursor !== undefined) {
    const { before_ts: beforeTs, before_id: beforeId } = filters.cursor;
    select = select.where(sql<boolean>`(e.ts, e.id) < (${beforeTs}::timestamptz, ${beforeId}::bigint)`);
  }
  const rows = await select.execute();
  const page = rows.slice(0, filters.limit);
  const last = page.at(-1);
  const nextCursor =
    rows.length > filters.limit && last
      ? encodeCursor({ before_ts: last.ts.toISOString(), before_id: last.id })
      : null;
  return { data: page.map(toEventJson), next_cursor: nextCursor };
}
