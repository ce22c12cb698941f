// Which containers alerting applies to, and with which settings, as of the database: the view
// alert_settings_in_effect (migration 0007, which the api reads too) says it once — a
// container's own row in alert_configs wins; else the matching label rule with the highest
// priority, then the lowest id; else no alerting. Reloaded when the api changes a configuration
// or rule (a trigger bumps alert_config_version, which the store's "alert configuration" job
// checks every couple of seconds through refreshIfChanged), when a container newer than the
// last load shows up, and every minute (labels change through inventories).
import type { Logger } from "@crowsnest/shared";
import { type Kysely, sql } from "kysely";
import type { AlertSettingsInEffectView, StoreDatabase } from "../db/database.ts";
import type { AlertSettings } from "./alert-rules.ts";

export interface EffectiveSettings extends AlertSettings {
  source: { kind: "container" } | { kind: "rule"; id: number; name: string };
}

export interface AlertConfigSnapshot {
  settings: ReadonlyMap<number, EffectiveSettings>;
  /** Containers whose alert state is not all clear: evaluated even without settings, so they resolve. */
  attentive: Set<number>;
}

function toEffectiveSettings(row: AlertSettingsInEffectView): EffectiveSettings {
  const settings: AlertSettings = {
    enabled: row.enabled,
    cpuThreshold: row.cpu_threshold,
    cpuBasis: row.cpu_basis,
    memThreshold: row.mem_threshold,
    consecutiveBreaches: row.consecutive_breaches,
    oomAlert: row.oom_alert,
    restartLoopCount: row.restart_loop_count,
    restartLoopWindowS: row.restart_loop_window_s,
  };
  return {
    ...settings,
    source:
      row.source === "container"
        ? { kind: "container" }
        : { kind: "rule", id: Number(row.rule_id), name: row.rule_name ?? "" },
  };
}

export interface AlertConfigCacheOptions {
  db: Kysely<StoreDatabase>;
  logger: Logger;
  fullReloadMs?: number;
}

export class AlertConfigCache {
  readonly #db: Kysely<StoreDatabase>;
  readonly #logger: Logger;
  readonly #fullReloadMs: number;
  #snapshot: AlertConfigSnapshot | undefined;
  #version: string | undefined;
  #maxContainerId = 0;
  #loadedAt = 0;

  constructor(options: AlertConfigCacheOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#fullReloadMs = options.fullReloadMs ?? 60_000;
  }

  /** The current snapshot, reloaded first when it may be stale for `containerIds`. */
  async get(containerIds: Iterable<number> = []): Promise<AlertConfigSnapshot> {
    const nowMs = Date.now();
    let reload = this.#snapshot === undefined || nowMs - this.#loadedAt >= this.#fullReloadMs;
    if (!reload && nowMs - this.#loadedAt >= 1000) {
      for (const id of containerIds) {
        if (id > this.#maxContainerId) {
          reload = true;
          break;
        }
      }
    }
    if (reload || this.#snapshot === undefined) return this.reload();
    return this.#snapshot;
  }

  /**
   * Reloads when the configuration changed since the last load (run every couple of seconds);
   * each version is logged once its settings are in use.
   */
  async refreshIfChanged(): Promise<void> {
    if (this.#snapshot === undefined || (await this.#readVersion()) !== this.#version) await this.reload();
  }

  /** Forgets the snapshot, so the next get() reloads (tests; after a change this process made). */
  invalidate(): void {
    this.#snapshot = undefined;
  }

  async reload(): Promise<AlertConfigSnapshot> {
    const version = await this.#readVersion();
    const [rows, attentive, maxId] = await Promise.all([
      this.#db.selectFrom("alert_settings_in_effect").selectAll().execute(),
      sql<{ container_id: number }>`
        SELECT container_id FROM alert_states
        WHERE state <> 'normal' OR restart_loop_fired_at IS NOT NULL`.execute(this.#db),
      sql<{ max: number | null }>`SELECT max(id) AS max FROM containers`.execute(this.#db),
    ]);
    const settings = new Map<number, EffectiveSettings>();
    for (const row of rows) settings.set(Number(row.container_id), toEffectiveSettings(row));
    const previous = this.#version;
    this.#version = version;
    this.#maxContainerId = Number(maxId.rows[0]?.max ?? 0);
    this.#loadedAt = Date.now();
    this.#snapshot = { settings, attentive: new Set(attentive.rows.map((row) => Number(row.container_id))) };
    if (previous !== version) {
      // Tests wait for this line (its version) instead of sleeping through the check interval.
      this.#logger.info(
        { containers: settings.size, version: Number(version) },
        "alert configuration in use",
      );
    }
    return this.#snapshot;
  }

  async #readVersion(): Promise<string> {
    const result = await sql<{ version: string }>`SELECT version::text FROM alert_config_version`.execute(
      this.#db,
    );
    return result.rows[0]?.version ?? "0";
  }
}
