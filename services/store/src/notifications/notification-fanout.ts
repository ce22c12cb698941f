// Decides which channels hear of one alert transition and queues one delivery per channel.
//
// The unique key (transition_id, channel_id) makes this idempotent: a transition redelivered by
// JetStream, or fanned out by two store instances at once, queues each channel's message once.
// Routing is read from Postgres at each transition, so a route the api just changed applies to
// the next transition.
import { type AlertNotification, type QuietHours, quietUntil, severityOf } from "@crowsnest/shared/notify";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";

interface TransitionRow {
  id: string;
  container_id: string;
  ts: Date;
  metric: AlertNotification["metric"];
  change: AlertNotification["change"];
  value: number | null;
  threshold: number | null;
  previous_state: AlertNotification["previous_state"];
  new_state: AlertNotification["new_state"];
  host: string;
  runtime: AlertNotification["runtime"];
  external_id: string;
  name: string;
  labels: Record<string, string>;
  fired_at: Date | null;
  muted: boolean;
}

export type FanOutOutcome =
  | { kind: "queued"; deliveries: number }
  | { kind: "unknown_transition" }
  | { kind: "muted" };

export interface NotificationFanoutOptions {
  db: Kysely<StoreDatabase>;
  /** CROWSNEST_PUBLIC_URL: messages link to the container in the dashboard when set. */
  publicUrl: string | undefined;
  now?: () => Date;
}

export class NotificationFanout {
  readonly #db: Kysely<StoreDatabase>;
  readonly #publicUrl: string | undefined;
  readonly #now: () => Date;

  constructor(options: NotificationFanoutOptions) {
    this.#db = options.db;
    this.#publicUrl = options.publicUrl?.replace(/\/+$/, "");
    this.#now = options.now ?? (() => new Date());
  }

  async fanOut(transitionId: string): Promise<FanOutOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      const found = await sql<TransitionRow>`
        SELECT h.id::text, h.container_id::text, h.ts, h.metric, h.change, h.value, h.threshold,
          h.previous_state, h.new_state, c.host, c.runtime, c.external_id, c.name, c.labels,
          (SELECT f.ts FROM alert_history f
            WHERE h.change = 'resolved' AND f.container_id = h.container_id AND f.metric = h.metric
              AND f.change = 'fired' AND f.id < h.id
            ORDER BY f.id DESC LIMIT 1) AS fired_at,
          EXISTS (SELECT 1 FROM notification_mutes m
            WHERE m.container_id = h.container_id AND (m.until IS NULL OR m.until > now())) AS muted
        FROM alert_history h JOIN containers c ON c.id = h.container_id
        WHERE h.id = ${transitionId}::bigint`.execute(trx);
      const row = found.rows[0];
      if (!row) return { kind: "unknown_transition" };
      if (row.muted) return { kind: "muted" };
      const severity = severityOf(row.metric, row.change);
      const routes = await sql<{ channel_ids: string[]; quiet_hours: QuietHours | null }>`
        SELECT r.channel_ids::text[] AS channel_ids, r.quiet_hours FROM notification_routes r
        WHERE r.enabled
          AND ${JSON.stringify(row.labels)}::jsonb @> r.selector
          AND (cardinality(r.hosts) = 0 OR ${row.host} = ANY(r.hosts))
          AND (cardinality(r.metrics) = 0 OR ${row.metric} = ANY(r.metrics))
          AND (cardinality(r.changes) = 0 OR ${row.change} = ANY(r.changes))
          AND (cardinality(r.severities) = 0 OR ${severity} = ANY(r.severities))`.execute(trx);
      // A channel reached by several routes is held only while every one of them is quiet.
      const now = this.#now();
      const sendAt = new Map<string, Date>();
      for (const route of routes.rows) {
        const at = (route.quiet_hours && quietUntil(route.quiet_hours, now)) ?? now;
        for (const channelId of route.channel_ids) {
          const earlier = sendAt.get(channelId);
          if (!earlier || at < earlier) sendAt.set(channelId, at);
        }
      }
      if (sendAt.size === 0) return { kind: "queued", deliveries: 0 };
      const notification = this.#notification(row, severity);
      const channelIds = [...sendAt.keys()];
      const inserted = await sql<{ id: string; next_attempt_at: Date }>`
        INSERT INTO notification_deliveries (transition_id, channel_id, container_id, notification, next_attempt_at)
        SELECT ${transitionId}::bigint, c.id, ${row.container_id}::bigint, ${JSON.stringify(notification)}::jsonb, u.at
        FROM unnest(${channelIds}::bigint[], ${channelIds.map((id) => sendAt.get(id) ?? now)}::timestamptz[]) AS u(id, at)
        -- A channel hears only of transitions recorded after it was created: a replayed stream
        -- (a consumer recreated) never floods a new channel with old alerts.
        JOIN notification_channels c ON c.id = u.id AND c.enabled
          AND c.created_at <= (SELECT recorded_at FROM alert_history WHERE id = ${transitionId}::bigint)
        ON CONFLICT ON CONSTRAINT notification_deliveries_once DO NOTHING
        RETURNING id::text, next_attempt_at`.execute(trx);
      if (inserted.rows.length > 0) {
        const held = inserted.rows.map((r) => r.next_attempt_at.getTime() > now.getTime());
        await sql`
          INSERT INTO notification_delivery_log (delivery_id, event, answer)
          SELECT u.id, u.event, u.answer FROM unnest(
            ${inserted.rows.map((r) => r.id)}::bigint[],
            ${held.map((h) => (h ? "held" : "queued"))}::text[],
            ${inserted.rows.map((r, i) => (held[i] ? `quiet hours until ${r.next_attempt_at.toISOString()}` : null))}::text[]
          ) AS u(id, event, answer)`.execute(trx);
      }
      return { kind: "queued", deliveries: inserted.rows.length };
    });
  }

  #notification(row: TransitionRow, severity: AlertNotification["severity"]): AlertNotification {
    const containerId = Number(row.container_id);
    const firedAt = row.change === "resolved" ? row.fired_at : null;
    return {
      v: 1,
      type: "alert_transition",
      transition_id: row.id,
      ts: row.ts.toISOString(),
      host: row.host,
      runtime: row.runtime,
      container: { id: containerId, name: row.name, external_id: row.external_id, labels: row.labels },
      metric: row.metric,
      change: row.change,
      severity,
      value: row.value,
      threshold: row.threshold,
      previous_state: row.previous_state,
      new_state: row.new_state,
      fired_at: firedAt?.toISOString() ?? null,
      duration_s: firedAt ? Math.max(0, (row.ts.getTime() - firedAt.getTime()) / 1000) : null,
      url: this.#publicUrl ? `${this.#publicUrl}/containers/${containerId}` : null,
      folded: null,
    };
  }
}
