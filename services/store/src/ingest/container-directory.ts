// Maps a container's identity (host, runtime, external_id) to the store's stable integer id,
// creating the row the first time a container is heard of. Ids never change, so they are
// cached: steady-state stats ingest does not touch the containers table at all.
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";
import { identityKey } from "./container-identity.ts";

export interface ContainerIdentity {
  host: string;
  runtime: string;
  external_id: string;
  /** Used only when the row is created; renames arrive through events and inventories. */
  name: string;
  /** When this was heard of; sets last_seen on a new row. */
  seenAt: string;
}

export class ContainerDirectory {
  readonly #db: Kysely<StoreDatabase>;
  readonly #ids = new Map<string, number>();

  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /** Remembers ids learnt elsewhere (an inventory upsert returns them). */
  remember(identity: { host: string; runtime: string; external_id: string }, id: number): void {
    this.#ids.set(identityKey(identity), id);
  }

  /** The cached id of an identityKey, if this process has seen it. */
  cached(key: string): number | undefined {
    return this.#ids.get(key);
  }

  /** The id of every identity, by identityKey. */
  async resolve(identities: readonly ContainerIdentity[]): Promise<Map<string, number>> {
    const resolved = new Map<string, number>();
    const missing = new Map<string, ContainerIdentity>();
    for (const identity of identities) {
      const key = identityKey(identity);
      const id = this.#ids.get(key);
      if (id !== undefined) resolved.set(key, id);
      else if (!missing.has(key)) missing.set(key, identity);
    }
    if (missing.size === 0) return resolved;

    // Sorted so two store instances upserting overlapping sets lock rows in the same order (no deadlock).
    const rows = [...missing.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, row]) => row);
    const result = await sql<{ id: number; host: string; runtime: string; external_id: string }>`
      INSERT INTO containers (host, runtime, external_id, name, last_seen)
      SELECT * FROM unnest(
        ${rows.map((row) => row.host)}::text[],
        ${rows.map((row) => row.runtime)}::text[],
        ${rows.map((row) => row.external_id)}::text[],
        ${rows.map((row) => row.name)}::text[],
        ${rows.map((row) => row.seenAt)}::timestamptz[]
      )
      ON CONFLICT ON CONSTRAINT containers_identity
        DO UPDATE SET last_seen = GREATEST(containers.last_seen, excluded.last_seen)
      RETURNING id, host, runtime, external_id`.execute(this.#db);
    for (const row of result.rows) {
      const key = identityKey(row);
      this.#ids.set(key, row.id);
      resolved.set(key, row.id);
    }
    return resolved;
  }
}
