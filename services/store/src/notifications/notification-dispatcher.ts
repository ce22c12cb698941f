// Sends queued deliveries, each channel's in transition order, one message at a time.
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
import type { Logger } from "@crowsnest/shared";
import {
  type ChannelTarget,
  type Notification,
  parseChannelTarget,
  type SendResult,
} from "@crowsnest/shared/notify";
import { type Kysely, sql } from "kysely";
import type { StoreDatabase } from "../db/database.ts";

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
        WHERE d.status IN ('queued', 'retrying')
        ORDER BY d.channel_id, d.transition_id, d.id
      ) h
      JOIN notification_channels c ON c.id = h.channel_id
      WHERE h.next_attempt_at <= now()
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
      RETURNING id::text, name, type, enabled, settings, secrets`.execute(this.#options.db);
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
    while (!this.#stopping) {
      const head = await sql<DeliveryRow>`
        SELECT id::text, attempts, next_attempt_at, notification FROM notification_deliveries
        WHERE channel_id = ${channel.id}::bigint AND status IN ('queued', 'retrying')
        ORDER BY transition_id, id LIMIT 1`.execute(this.#options.db);
      const delivery = head.rows[0];
      if (!delivery || delivery.next_attempt_at.getTime() > Date.now()) return;
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
