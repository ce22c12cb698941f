// Writes what an inventory says about each container: metadata always, state only when the
// inventory is newer than the event that set the current state, and revives a container marked
// gone before the inventory was taken. Reconciles: once every part of a snapshot is in (parts
// may arrive in different batches, even at different store instances), containers of that host
// and runtime the snapshot does not list, and not seen since it was taken, are marked gone at
// the snapshot's time. An older snapshot never undoes a newer one.
import type { InventoryMessage } from "@crowsnest/shared";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import type { ContainerDirectory } from "./container-directory.ts";

export async function writeInventories(
  db: Kysely<StoreDatabase>,
  directory: ContainerDirectory,
  inventories: readonly InventoryMessage[],
): Promise<void> {
  // The newest report of each container wins within a batch; one row each, as an upsert requires.
  const latest = new Map<
    string,
    { inventory: InventoryMessage; container: InventoryMessage["containers"][number] }
  >();
  for (const inventory of inventories) {
    for (const container of inventory.containers) {
      const key = `${inventory.host}\u0000${inventory.runtime}\u0000${container.external_id}`;
      const seen = latest.get(key);
      if (!seen || seen.inventory.ts <= inventory.ts) latest.set(key, { inventory, container });
    }
  }
  const committed = await db.transaction().execute(async (trx) => {
    // Parts of one host's snapshots are counted under this lock, so two instances each holding
    // one part cannot both miss the other's.
    // The runtime is one word, so "<runtime> <host>" names one host unambiguously (text cannot hold NUL).
    const hostKeys = [
      ...new Set(inventories.map((inventory) => `${inventory.runtime} ${inventory.host}`)),
    ].sort();
    for (const key of hostKeys) {
      await sql`SELECT pg_advisory_xact_lock(1131573761, hashtext(${key}))`.execute(trx);
    }
    const upserted = latest.size > 0 ? await upsertContainers(trx, latest) : [];
    await reconcile(trx, inventories);
    return upserted;
  });
  // Only ids that were committed may be cached.
  for (const row of committed) directory.remember(row, row.id);
}

type Listed = Map<string, { inventory: InventoryMessage; container: InventoryMessage["containers"][number] }>;

async function upsertContainers(db: Kysely<StoreDatabase>, latest: Listed) {
  const rows = [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  const result = await sql<{ id: number; host: string; runtime: string; external_id: string }>`
    INSERT INTO containers (
      host, runtime, external_id, name, image, image_id, state, labels, compose_project, compose_service,
      created_at, started_at, finished_at, exit_code, health_status, state_changed_at, last_seen
    )
    SELECT * FROM unnest(
      ${rows.map((row) => row.inventory.host)}::text[],
      ${rows.map((row) => row.inventory.runtime)}::text[],
      ${rows.map((row) => row.container.external_id)}::text[],
      ${rows.map((row) => row.container.name)}::text[],
      ${rows.map((row) => row.container.image)}::text[],
      ${rows.map((row) => row.container.image_id)}::text[],
      ${rows.map((row) => row.container.state)}::text[],
      ${rows.map((row) => JSON.stringify(row.container.labels))}::jsonb[],
      ${rows.map((row) => row.container.compose?.project ?? null)}::text[],
      ${rows.map((row) => row.container.compose?.service ?? null)}::text[],
      ${rows.map((row) => row.container.created_at)}::timestamptz[],
      ${rows.map((row) => row.container.started_at)}::timestamptz[],
      ${rows.map((row) => row.container.finished_at)}::timestamptz[],
      ${rows.map((row) => row.container.exit_code)}::integer[],
      ${rows.map((row) => row.container.health?.status ?? null)}::text[],
      ${rows.map((row) => row.inventory.ts)}::timestamptz[],
      ${rows.map((row) => row.inventory.ts)}::timestamptz[]
    )
    ON CONFLICT ON CONSTRAINT containers_identity DO UPDATE SET
      name = excluded.name,
      image = excluded.image,
      image_id = COALESCE(excluded.image_id, containers.image_id),
      labels = excluded.labels,
      compose_project = excluded.compose_project,
      compose_service = excluded.compose_service,
      created_at = COALESCE(excluded.created_at, containers.created_at),
      started_at = COALESCE(excluded.started_at, containers.started_at),
      finished_at = COALESCE(excluded.finished_at, containers.finished_at),
      health_status = COALESCE(excluded.health_status, containers.health_status),
      state = CASE WHEN containers.state_changed_at IS NULL OR containers.state_changed_at <= excluded.state_changed_at
        THEN excluded.state ELSE containers.state END,
      exit_code = CASE WHEN containers.state_changed_at IS NULL OR containers.state_changed_at <= excluded.state_changed_at
        THEN COALESCE(excluded.exit_code, containers.exit_code) ELSE containers.exit_code END,
      state_changed_at = GREATEST(containers.state_changed_at, excluded.state_changed_at),
      last_seen = GREATEST(containers.last_seen, excluded.last_seen),
      gone_at = CASE WHEN containers.gone_at <= excluded.last_seen THEN NULL ELSE containers.gone_at END
    RETURNING id, host, runtime, external_id`.execute(db);
  return result.rows;
}

async function reconcile(db: Kysely<StoreDatabase>, inventories: readonly InventoryMessage[]): Promise<void> {
  const parts = [...inventories].sort((a, b) =>
    `${a.host}\u0000${a.runtime}\u0000${a.snapshot_id}\u0000${a.part}` <
    `${b.host}\u0000${b.runtime}\u0000${b.snapshot_id}\u0000${b.part}`
      ? -1
      : 1,
  );
  await sql`
    INSERT INTO inventory_parts (host, runtime, snapshot_id, part, parts, ts, external_ids)
    SELECT u.host, u.runtime, u.snapshot_id, u.part, u.parts, u.ts,
      ARRAY(SELECT jsonb_array_elements_text(u.ids))
    FROM unnest(
      ${parts.map((p) => p.host)}::text[],
      ${parts.map((p) => p.runtime)}::text[],
      ${parts.map((p) => p.snapshot_id)}::text[],
      ${parts.map((p) => p.part)}::integer[],
      ${parts.map((p) => p.parts)}::integer[],
      ${parts.map((p) => p.ts)}::timestamptz[],
      ${parts.map((p) => JSON.stringify(p.containers.map((c) => c.external_id)))}::jsonb[]
    ) AS u(host, runtime, snapshot_id, part, parts, ts, ids)
    ON CONFLICT (host, runtime, snapshot_id, part) DO NOTHING`.execute(db);

  const snapshots = new Map<string, InventoryMessage>();
  for (const part of parts) snapshots.set(`${part.host}\u0000${part.runtime}\u0000${part.snapshot_id}`, part);
  for (const snapshot of snapshots.values()) {
    const where = sql`host = ${snapshot.host} AND runtime = ${snapshot.runtime} AND snapshot_id = ${snapshot.snapshot_id}`;
    const counted = await sql<{ parts: number }>`
      SELECT count(*)::int AS parts FROM inventory_parts WHERE ${where}`.execute(db);
    if ((counted.rows[0]?.parts ?? 0) < snapshot.parts) continue;
    const listed = await sql<{ id: string }>`
      SELECT DISTINCT unnest(external_ids) AS id FROM inventory_parts WHERE ${where}`.execute(db);
    const newer = await sql<{ host: string }>`
      INSERT INTO inventory_reconciliations (host, runtime, snapshot_id, snapshot_ts)
      VALUES (${snapshot.host}, ${snapshot.runtime}, ${snapshot.snapshot_id}, ${snapshot.ts}::timestamptz)
      ON CONFLICT (host, runtime) DO UPDATE SET
        snapshot_id = excluded.snapshot_id, snapshot_ts = excluded.snapshot_ts, reconciled_at = now()
      WHERE inventory_reconciliations.snapshot_ts < excluded.snapshot_ts
      RETURNING host`.execute(db);
    if (newer.rows.length === 0) continue;
    await sql`
      UPDATE containers SET gone_at = ${snapshot.ts}::timestamptz
      WHERE host = ${snapshot.host} AND runtime = ${snapshot.runtime}
        AND gone_at IS NULL
        AND last_seen <= ${snapshot.ts}::timestamptz
        AND NOT (external_id = ANY(${listed.rows.map((row) => row.id)}::text[]))`.execute(db);
  }
}
