// Sends queued deliveries, each channel's in transition order, one message at a time.
//
// A message held for quiet hours (queued, not yet due) does not hold up the channel: later
// messages that are due go out meanwhile, and it takes its place when its time comes. A message
// being retried does: nothing overtakes it.
//
// A channel is worked by one store instance at a time: the one holding its lease
// (notification_channels.lease_owner/lease_until), renewed after every message and released
// when the channel has nothing due. That is what keeps a channel's messages in order and keeps
// two instances from sending the same message. Channels are worked concurrently, so a channel
// that is down (retrying its oldest message with capped backoff) delays only its own messages.
//
// At least once: a delivery is marked sent only after the channel accepted it. The one window
// for a duplicate is an instance dying between the channel's answer and that commit; another
// instance then sends it again once the lease lapses. A lease outlives any send (it is at least
// twice the send timeout), so a slow send never lets a second instance in.
//
// Rate limit: a channel sends at most `rate_limit_per_minute` messages in any minute. When it is
// reached, its pending messages wait for a free slot, and meanwhile each container's pending
// transitions are folded into its newest one, which carries the count and the first one's time
// (a flapping container becomes one message). Only the limit folds: a channel that was down
// still gets every message in order.
import type { Logger } from "@crowsnest/shared";
import {
  type AlertNotification,
  type ChannelTarget,
  type Notification,
  parseChannelTarget,
  type SendResult,
} from "@crowsnest/shared/notify";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";

/**
 * The pending deliveries that keep their place in a channel's line: every retrying one (nothing
 * overtakes it) and every queued one that is due (one held for quiet hours steps aside).
 */
const PENDING_IN_LINE = sql`d.status IN ('queued', 'retrying') AND (d.status = 'retrying' OR d.next_attempt_at <= now())`;

export type SendFunction = (target: ChannelTarget, notification: Notification) => Promise<SendResult>;

export interface DeliveryPolicy {
  /** Tries before a delivery is given up (a permanent refusal gives up at once). */
  maxAttempts: number;
  retryMinDelayMs: number;
  retryMaxDelayMs: number;
  /** How long a channel stays with one instance without a renewal. */
  leaseMs: number;
  /** How often due deliveries are looked for (they are also looked for as soon as one is queued here). */
  pollMs: number;
}

export interface NotificationDispatcherOptions {
  db: Kysely<StoreDatabase>;
  logger: Logger;
  /** Unique per running store instance: the lease owner. */
  instanceId: string;
  send: SendFunction;
  policy: DeliveryPolicy;
}

interface ChannelRow {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  settings: unknown;
  secrets: unknown;
  rate_limit_per_minute: number;
  rate_limited_until: Date | null;
}

interface DeliveryRow {
  id: string;
  attempts: number;
  next_attempt_at: Date;
  notification: Notification;
}

type Outcome = {
  status: "sent" | "retrying" | "gave_up";
  event: "sent" | "failed" | "gave_up";
  answer: string;
};

export class NotificationDispatcher {
  readonly #options: NotificationDispatcherOptions;
  /** Channels this instance is working now, by id. */
  readonly #workers = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #rescan = false;
  #stopping = false;
  #failingSince: number | undefined;

  constructor(options: NotificationDispatcherOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopping = false;
    this.wake();
    this.#timer = setInterval(() => this.wake(), this.#options.policy.pollMs);
  }

  /** Looks for due deliveries now (called after a fan-out queued some). */
  wake(): void {
    if (this.#stopping) return;
    if (this.#scanning) {
      this.#rescan = true;
      return;
    }
    this.#scanning = this.#scan()
      .then(
        () => this.#recovered(),
        (error: unknown) => this.#failed(error),
      )
      .finally(() => {
        this.#scanning = undefined;
        if (this.#rescan) {
          this.#rescan = false;
          this.wake();
        }
      });
  }

  /** Finishes the messages being sent, then releases this instance's leases. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#scanning;
    await Promise.all(this.#workers.values());
  }

  async #scan(): Promise<void> {
    const due = await sql<{ channel_id: string }>`
      SELECT h.channel_id::text FROM (
        SELECT DISTINCT ON (d.channel_id) d.channel_id, d.next_attempt_at
        FROM notification_deliveries d
        WHERE ${PENDING_IN_LINE}
        ORDER BY d.channel_id, d.transition_id, d.id
      ) h
      JOIN notification_channels c ON c.id = h.channel_id
      WHERE h.next_attempt_at <= now()
        AND (c.rate_limited_until IS NULL OR c.rate_limited_until <= now())
        AND (c.lease_owner IS NULL OR c.lease_owner = ${this.#options.instanceId} OR c.lease_until < now())`.execute(
      this.#options.db,
    );
    for (const { channel_id: channelId } of due.rows) {
      if (this.#workers.has(channelId) || this.#stopping) continue;
      const channel = await this.#lease(channelId);
      if (!channel) continue;
      const worker = this.#work(channel)
        .catch((error: unknown) => this.#failed(error))
        .finally(async () => {
          this.#workers.delete(channelId);
          await this.#release(channelId).catch((error: unknown) => this.#failed(error));
        });
      this.#workers.set(channelId, worker);
    }
  }

  async #lease(channelId: string): Promise<ChannelRow | undefined> {
    const { instanceId, policy } = this.#options;
    const leased = await sql<ChannelRow>`
      UPDATE notification_channels
      SET lease_owner = ${instanceId}, lease_until = now() + make_interval(secs => ${policy.leaseMs / 1000})
      WHERE id = ${channelId}::bigint
        AND (lease_owner IS NULL OR lease_owner = ${instanceId} OR lease_until < now())
      RETURNING id::text, name, type, enabled, settings, secrets, rate_limit_per_minute, rate_limited_until`.execute(
      this.#options.db,
    );
    return leased.rows[0];
  }

  async #release(channelId: string): Promise<void> {
    await sql`
      UPDATE notification_channels SET lease_owner = NULL, lease_until = NULL
      WHERE id = ${channelId}::bigint AND lease_owner = ${this.#options.instanceId}`.execute(
      this.#options.db,
    );
  }

  /** Sends the channel's due messages in order until none is due, the oldest fails, or the lease is lost. */
  async #work(channel: ChannelRow): Promise<void> {
    const parsed = parseChannelTarget({ ...channel, id: Number(channel.id) });
    const nextDue = async () => {
      const head = await sql<DeliveryRow>`
        SELECT id::text, attempts, next_attempt_at, notification FROM notification_deliveries d
        WHERE channel_id = ${channel.id}::bigint AND ${PENDING_IN_LINE}
        ORDER BY transition_id, id LIMIT 1`.execute(this.#options.db);
      const delivery = head.rows[0];
      return delivery && delivery.next_attempt_at.getTime() <= Date.now() ? delivery : undefined;
    };
    while (!this.#stopping) {
      let delivery = await nextDue();
      if (!delivery) return;
      if (channel.enabled && parsed.ok) {
        const freeAt = await this.#rateLimitedUntil(channel);
        if (freeAt) {
          await this.#fold(channel, { freeAt, headId: delivery.id });
          return;
        }
        // Transitions that piled up while the limit held are folded before the next sends too,
        // until a minute after the hold ended.
        if (channel.rate_limited_until && Date.now() - channel.rate_limited_until.getTime() < 60_000) {
          await this.#fold(channel, undefined);
          delivery = await nextDue();
          if (!delivery) return;
        }
      }
      let outcome: Outcome;
      if (!channel.enabled) outcome = { status: "gave_up", event: "gave_up", answer: "channel disabled" };
      else if (!parsed.ok) {
        outcome = {
          status: "gave_up",
          event: "gave_up",
          answer: `channel configuration invalid: ${parsed.detail}`,
        };
      } else
        outcome = this.#outcome(delivery, await this.#options.send(parsed.target, delivery.notification));
      const kept = await this.#record(channel.id, delivery, outcome);
      if (outcome.status !== "sent") {
        this.#options.logger.warn(
          {
            channel_id: Number(channel.id),
            channel: channel.name,
            delivery_id: Number(delivery.id),
            attempt: delivery.attempts + 1,
            status: outcome.status,
            answer: outcome.answer,
          },
          "notification not delivered",
        );
      }
      if (!kept || outcome.status === "retrying") return;
    }
  }

  /** When the channel may send again, or undefined when it is below its rate limit. */
  async #rateLimitedUntil(channel: ChannelRow): Promise<Date | undefined> {
    const limit = Math.max(1, channel.rate_limit_per_minute);
    const nth = await sql<{ free_at: Date }>`
      SELECT finished_at + interval '1 minute' AS free_at FROM notification_deliveries
      WHERE channel_id = ${channel.id}::bigint AND status = 'sent' AND finished_at > now() - interval '1 minute'
      ORDER BY finished_at DESC OFFSET ${limit - 1} LIMIT 1`.execute(this.#options.db);
    return nth.rows[0]?.free_at;
  }

  /** Folds each container's pending messages into its newest; with `hold`, holds the channel until `freeAt`. */
  async #fold(channel: ChannelRow, hold: { freeAt: Date; headId: string } | undefined): Promise<void> {
    await this.#options.db.transaction().execute(async (trx) => {
      if (hold) {
        channel.rate_limited_until = hold.freeAt;
        await sql`UPDATE notification_channels SET rate_limited_until = ${hold.freeAt}
          WHERE id = ${channel.id}::bigint`.execute(trx);
      }
      const pending = await sql<{ id: string; container_id: string; notification: AlertNotification }>`
        SELECT id::text, container_id::text, notification FROM notification_deliveries
        WHERE channel_id = ${channel.id}::bigint AND status IN ('queued', 'retrying')
        ORDER BY transition_id, id FOR UPDATE`.execute(trx);
      const byContainer = new Map<string, typeof pending.rows>();
      for (const row of pending.rows) {
        const list = byContainer.get(row.container_id) ?? [];
        list.push(row);
        byContainer.set(row.container_id, list);
      }
      const folded = new Set<string>();
      for (const list of byContainer.values()) {
        const keeper = list.at(-1);
        const first = list[0];
        if (!keeper || !first || list.length < 2) continue;
        const others = list.slice(0, -1);
        for (const other of others) folded.add(other.id);
        const count = list.reduce((sum, row) => sum + (row.notification.folded?.count ?? 1), 0);
        const since = first.notification.folded?.since ?? first.notification.ts;
        await sql`
          UPDATE notification_deliveries SET notification = jsonb_set(notification, '{folded}', ${JSON.stringify({ count, since })}::jsonb)
          WHERE id = ${keeper.id}::bigint`.execute(trx);
        const answer = `folded into delivery ${keeper.id} (rate limit of ${channel.rate_limit_per_minute} a minute)`;
        await sql`
          UPDATE notification_deliveries SET status = 'folded', finished_at = now(), last_answer = ${answer}
          WHERE id = ANY(${others.map((o) => o.id)}::bigint[])`.execute(trx);
        await sql`
          INSERT INTO notification_delivery_log (delivery_id, event, answer)
          SELECT unnest(${others.map((o) => o.id)}::bigint[]), 'folded', ${answer}`.execute(trx);
      }
      // The message that would have gone next says why it waits (it may have been folded meanwhile).
      if (hold && !folded.has(hold.headId)) {
        const answer = `rate limit of ${channel.rate_limit_per_minute} a minute reached; next at ${hold.freeAt.toISOString()}`;
        await sql`
          INSERT INTO notification_delivery_log (delivery_id, event, answer)
          VALUES (${hold.headId}::bigint, 'held', ${answer})`.execute(trx);
      }
    });
  }

  #outcome(delivery: DeliveryRow, result: SendResult): Outcome {
    if (result.ok) return { status: "sent", event: "sent", answer: result.answer };
    const attempts = delivery.attempts + 1;
    if (result.permanent || attempts >= this.#options.policy.maxAttempts) {
      const why = result.permanent ? "refused by the channel" : `after ${attempts} tries`;
      return { status: "gave_up", event: "gave_up", answer: `gave up ${why}: ${result.answer}` };
    }
    return { status: "retrying", event: "failed", answer: result.answer };
  }

  /** Records the outcome and renews the lease in one transaction; false when the lease was lost meanwhile. */
  async #record(channelId: string, delivery: DeliveryRow, outcome: Outcome): Promise<boolean> {
    const { policy, instanceId } = this.#options;
    const attempts = delivery.attempts + 1;
    const delayMs = Math.min(policy.retryMaxDelayMs, policy.retryMinDelayMs * 2 ** (attempts - 1));
    return this.#options.db.transaction().execute(async (trx) => {
      const renewed = await sql`
        UPDATE notification_channels SET lease_until = now() + make_interval(secs => ${policy.leaseMs / 1000})
        WHERE id = ${channelId}::bigint AND lease_owner = ${instanceId}`.execute(trx);
      await sql`
        UPDATE notification_deliveries SET
          status = ${outcome.status}, attempts = ${attempts}, last_answer = ${outcome.answer},
          next_attempt_at = CASE WHEN ${outcome.status} = 'retrying'
            THEN now() + make_interval(secs => ${delayMs / 1000}) ELSE next_attempt_at END,
          finished_at = CASE WHEN ${outcome.status} = 'retrying' THEN NULL ELSE now() END
        WHERE id = ${delivery.id}::bigint`.execute(trx);
      await sql`
        INSERT INTO notification_delivery_log (delivery_id, event, attempt, answer)
        VALUES (${delivery.id}::bigint, ${outcome.event}, ${attempts}, ${outcome.answer})`.execute(trx);
      return Number(renewed.numAffectedRows ?? 0) > 0;
    });
  }

  #recovered(): void {
    if (this.#failingSince === undefined) return;
    this.#options.logger.info(
      { failing_ms: Date.now() - this.#failingSince },
      "notification delivery recovered",
    );
    this.#failingSince = undefined;
  }

  /** Logged once per outage (database unreachable), not once per poll. */
  #failed(error: unknown): void {
    if (this.#failingSince !== undefined) return;
    this.#failingSince = Date.now();
    this.#options.logger.error({ err: error }, "notification delivery failed; retrying every poll");
  }
}
