// Publishes recorded alert transitions (alert_history rows not yet published) on
// `<prefix>.v1.alerts.<host>.<container>`, oldest first, then marks them published. One store
// instance publishes at a time (advisory lock), so each container's transitions reach the bus
// in order. The JetStream message id is the row's id: a crash between publishing and marking
// republishes rows that JetStream then drops as duplicates.
import { type AlertTransitionMessage, codecs, type Logger, type Subjects } from "@crowsnest/shared";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";

const PUBLISH_BATCH = 500;
const LOCK_CLASS = 1131573790;

/** The subset of a JetStream client this needs. */
export interface AlertBus {
  publish(subject: string, payload: Uint8Array, options: { msgID: string }): Promise<unknown>;
}

interface PendingRow {
  id: string;
  ts: Date;
  metric: AlertTransitionMessage["metric"];
  change: AlertTransitionMessage["change"];
  value: number | null;
  threshold: number | null;
  previous_state: AlertTransitionMessage["previous_state"];
  new_state: AlertTransitionMessage["new_state"];
  host: string;
  runtime: AlertTransitionMessage["runtime"];
  external_id: string;
  name: string;
}

export class AlertPublisher {
  readonly #db: Kysely<StoreDatabase>;
  readonly #js: AlertBus;
  readonly #subjects: Subjects;
  readonly #logger: Logger;

  constructor(options: { db: Kysely<StoreDatabase>; js: AlertBus; subjects: Subjects; logger: Logger }) {
    this.#db = options.db;
    this.#js = options.js;
    this.#subjects = options.subjects;
    this.#logger = options.logger;
  }

  /** Publishes everything pending; returns how many were published. */
  async publishPending(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.#publishBatch();
      total += published;
      if (published < PUBLISH_BATCH) return total;
    }
  }

  async #publishBatch(): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      const lock = await sql<{ locked: boolean }>`
        SELECT pg_try_advisory_xact_lock(${LOCK_CLASS}, 0) AS locked`.execute(trx);
      if (lock.rows[0]?.locked !== true) return 0;
      const pending = await sql<PendingRow>`
        SELECT h.id::text, h.ts, h.metric, h.change, h.value, h.threshold, h.previous_state, h.new_state,
          c.host, c.runtime, c.external_id, c.name
        FROM alert_history h JOIN containers c ON c.id = h.container_id
        WHERE h.published_at IS NULL
        ORDER BY h.id
        LIMIT ${PUBLISH_BATCH}`.execute(trx);
      if (pending.rows.length === 0) return 0;
      // Sent in order on one connection; awaited together.
      await Promise.all(
        pending.rows.map((row) => {
          const message: AlertTransitionMessage = {
            v: 1,
            host: row.host,
            runtime: row.runtime,
            container: { external_id: row.external_id, name: row.name },
            ts: row.ts.toISOString(),
            metric: row.metric,
            change: row.change,
            value: row.value,
            threshold: row.threshold,
            previous_state: row.previous_state,
            new_state: row.new_state,
          };
          const encoded = codecs.alertTransition.encode(message);
          if (!encoded.ok) {
            // Cannot happen for rows this store wrote; never let one block the outbox.
            this.#logger.error({ id: row.id, detail: encoded.detail }, "alert transition failed validation");
            return Promise.resolve();
          }
          return this.#js.publish(this.#subjects.alert(row.host, row.name), encoded.data, {
            msgID: `alert/${row.id}`,
          });
        }),
      );
      await sql`
        UPDATE alert_history SET published_at = now()
        WHERE id = ANY(${pending.rows.map((row) => row.id)}::bigint[])`.execute(trx);
      return pending.rows.length;
    });
  }
}
