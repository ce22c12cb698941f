// Forward-only schema migrations, applied in order at start. Kysely's migrator holds a
// Postgres advisory lock while it runs, so several store instances starting together apply
// each migration once. Never edit a migration that has shipped: add a new one.
// (0001 was restructured before anything shipped: container_stats became partitioned.)
import { type Kysely, sql } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration";
import {
  addedGaugeSql,
  fiveMinuteTableSql,
  minuteCoveringKeySql,
  minuteTableSql,
  ROLLUP_SPECS,
  rollupTable,
  rollupTableSql,
} from "../rollup/rollup-spec.ts";
import { rollupFromFinerTierStatement } from "../rollup/rollup-sql.ts";
import type { StoreDatabase } from "./database.ts";
import { dayStart, partitionDay } from "./partitions.ts";

const migrations: Record<string, Migration> = {
  "0001-containers-stats-events": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE containers (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          host text NOT NULL,
          runtime text NOT NULL,
          external_id text NOT NULL,
          name text NOT NULL,
          image text,
          image_id text,
          state text NOT NULL DEFAULT 'unknown',
          labels jsonb NOT NULL DEFAULT '{}',
          compose_project text,
          compose_service text,
          created_at timestamptz,
          started_at timestamptz,
          finished_at timestamptz,
          exit_code integer,
          health_status text,
          state_changed_at timestamptz,
          first_seen timestamptz NOT NULL DEFAULT now(),
          last_seen timestamptz NOT NULL DEFAULT now(),
          gone_at timestamptz,
          CONSTRAINT containers_identity UNIQUE (host, runtime, external_id)
        )`.execute(db);
      await sql`CREATE INDEX containers_name ON containers (name)`.execute(db);

      // Creates the day partition [day, day + 1) of a table partitioned by ts, unless it exists.
      // Serialized by a transaction-level advisory lock so concurrent creators never collide.
      // Without lock on the parent that would block writers or readers (see below).
      await sql`
        CREATE FUNCTION crowsnest_ensure_day_partition(parent text, day date) RETURNS boolean
        LANGUAGE plpgsql AS $$
        DECLARE
          partition_name text := parent || '_p' || to_char(day, 'YYYYMMDD');
        BEGIN
          IF to_regclass(partition_name) IS NOT NULL THEN
            RETURN false;
          END IF;
          PERFORM pg_advisory_xact_lock(1131573760, hashtext(parent));
          IF to_regclass(partition_name) IS NOT NULL THEN
            RETURN false;
          END IF;
          -- Created apart, then attached: ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on the
          -- parent, which does not conflict with reads and writes (CREATE … PARTITION OF would
          -- queue every insert behind a long rollup query). The table is empty, so nothing is scanned.
          EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name, parent);
          EXECUTE format(
            'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
            parent, partition_name,
            (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
          RETURN true;
        END $$`.execute(db);

      // One row per published sample, partitioned by UTC day so retention drops whole partitions.
      // The primary key is the sample's natural key, so a redelivered or republished sample is
      // stored once. It also serves history by container and time. The BRIN index on ts serves
      // time-window scans (rollups, top consumers) at almost no ingest cost, rows arriving in
      // time order. No foreign key to containers: rows are written in bulk, containers are never
      // deleted by ingest.
      await sql`
        CREATE TABLE container_stats (
          container_id bigint NOT NULL,
          ts timestamptz NOT NULL,
          interval_ms integer,
          cpu_percent double precision,
          online_cpus smallint,
          cpu_limit_cores double precision,
          mem_used bigint,
          mem_limit bigint,
          net_rx_bytes bigint,
          net_tx_bytes bigint,
          net_rx_bytes_per_s double precision,
          net_tx_bytes_per_s double precision,
          blk_read_bytes bigint,
          blk_write_bytes bigint,
          blk_read_bytes_per_s double precision,
          blk_write_bytes_per_s double precision,
          pids integer,
          PRIMARY KEY (container_id, ts)
        ) PARTITION BY RANGE (ts)`.execute(db);
      await sql`CREATE INDEX container_stats_ts ON container_stats USING brin (ts) WITH (pages_per_range = 16)`.execute(
        db,
      );

      await sql`
        CREATE TABLE container_events (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          event_id text NOT NULL UNIQUE,
          container_id bigint NOT NULL,
          ts timestamptz NOT NULL,
          ts_nano numeric(20, 0),
          kind text NOT NULL,
          action text NOT NULL,
          exit_code integer,
          oom_killed boolean,
          signal text,
          health_status text,
          synthesized boolean NOT NULL,
          image text,
          attributes jsonb NOT NULL DEFAULT '{}'
        )`.execute(db);
      // Events of one container newest first, the API's per-container listing (and restart counting).
      await sql`CREATE INDEX container_events_by_container ON container_events (container_id, ts DESC, id DESC)`.execute(
        db,
      );
      // Retention deletes by age.
      await sql`CREATE INDEX container_events_ts ON container_events (ts)`.execute(db);
    },
  },

  "0002-hosts-host-stats": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE hosts (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL UNIQUE,
          online_cpus integer,
          mem_total bigint,
          first_seen timestamptz NOT NULL DEFAULT now(),
          last_seen timestamptz NOT NULL
        )`.execute(db);
      await sql`
        CREATE TABLE host_stats (
          host_id bigint NOT NULL,
          ts timestamptz NOT NULL,
          cpu_percent double precision,
          online_cpus integer NOT NULL,
          mem_total bigint NOT NULL,
          mem_used bigint NOT NULL,
          mem_available bigint NOT NULL,
          load_1 double precision NOT NULL,
          load_5 double precision NOT NULL,
          load_15 double precision NOT NULL,
          uptime_s double precision NOT NULL,
          PRIMARY KEY (host_id, ts)
        ) PARTITION BY RANGE (ts)`.execute(db);
      await sql`CREATE INDEX host_stats_ts ON host_stats USING brin (ts)`.execute(db);

      // Parts of split inventories, kept until every part of a snapshot is in, so containers a
      // host no longer has are marked gone only from a complete list.
      await sql`
        CREATE TABLE inventory_parts (
          host text NOT NULL,
          runtime text NOT NULL,
          snapshot_id text NOT NULL,
          part integer NOT NULL,
          parts integer NOT NULL,
          ts timestamptz NOT NULL,
          external_ids text[] NOT NULL,
          PRIMARY KEY (host, runtime, snapshot_id, part)
        )`.execute(db);
      await sql`CREATE INDEX inventory_parts_ts ON inventory_parts (ts)`.execute(db);
      // The newest complete snapshot applied per host and runtime: an older one never undoes it.
      await sql`
        CREATE TABLE inventory_reconciliations (
          host text NOT NULL,
          runtime text NOT NULL,
          snapshot_id text NOT NULL,
          snapshot_ts timestamptz NOT NULL,
          reconciled_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (host, runtime)
        )`.execute(db);
    },
  },

  "0003-rollups": {
    async up(db: Kysely<unknown>) {
      for (const statement of rollupTableSql()) await sql.raw(statement).execute(db);
      // Which closed buckets are computed. Ingest bumps `generation` when it writes a sample into
      // a closed (or closing) bucket; a bucket is due while computed_generation < generation or
      // it has no row. `computations` counts how often it was computed (operations, tests).
      await sql`
        CREATE TABLE rollup_buckets (
          series text NOT NULL,
          bucket timestamptz NOT NULL,
          generation bigint NOT NULL DEFAULT 1,
          computed_generation bigint,
          computed_at timestamptz,
          computations integer NOT NULL DEFAULT 0,
          source text,
          PRIMARY KEY (series, bucket)
        )`.execute(db);
    },
  },

  "0004-alerts": {
    async up(db: Kysely<unknown>) {
      // The settings shared by a container's own configuration and a label rule. A null threshold
      // turns that metric's alert off.
      const settings = `
          enabled boolean NOT NULL DEFAULT true,
          cpu_threshold double precision DEFAULT 90 CHECK (cpu_threshold > 0 AND cpu_threshold <= 100000),
          cpu_basis text NOT NULL DEFAULT 'core' CHECK (cpu_basis IN ('core', 'limit')),
          mem_threshold double precision DEFAULT 90 CHECK (mem_threshold > 0 AND mem_threshold <= 100),
          consecutive_breaches integer NOT NULL DEFAULT 2 CHECK (consecutive_breaches BETWEEN 1 AND 100),
          oom_alert boolean NOT NULL DEFAULT true,
          restart_loop_count integer DEFAULT 3 CHECK (restart_loop_count BETWEEN 1 AND 1000),
          restart_loop_window_s integer NOT NULL DEFAULT 600 CHECK (restart_loop_window_s BETWEEN 10 AND 86400),
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()`;
      await sql
        .raw(`
        CREATE TABLE alert_configs (
          container_id bigint PRIMARY KEY REFERENCES containers (id) ON DELETE CASCADE,
          ${settings}
        )`)
        .execute(db);
      await sql
        .raw(`
        CREATE TABLE alert_rules (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL UNIQUE,
          selector jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(selector) = 'object'),
          priority integer NOT NULL DEFAULT 0,
          ${settings}
        )`)
        .execute(db);
      // Bumped by every change to either table, so every store instance notices a change the api
      // made within a second or two, without keeping a LISTEN connection.
      await sql`
        CREATE TABLE alert_config_version (
          singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
          version bigint NOT NULL
        )`.execute(db);
      await sql`INSERT INTO alert_config_version (version) VALUES (1)`.execute(db);
      await sql`
        CREATE FUNCTION crowsnest_bump_alert_config_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE alert_config_version SET version = version + 1;
          RETURN NULL;
        END $$`.execute(db);
      for (const table of ["alert_configs", "alert_rules"]) {
        await sql
          .raw(`
          CREATE TRIGGER ${table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
          FOR EACH STATEMENT EXECUTE FUNCTION crowsnest_bump_alert_config_version()`)
          .execute(db);
      }

      await sql`
        CREATE TABLE alert_states (
          container_id bigint PRIMARY KEY,
          state text NOT NULL DEFAULT 'normal'
            CHECK (state IN ('normal', 'cpu_alert', 'mem_alert', 'both_alert')),
          cpu_breaches integer NOT NULL DEFAULT 0,
          mem_breaches integer NOT NULL DEFAULT 0,
          cpu_fired_at timestamptz,
          cpu_fired_value double precision,
          cpu_fired_threshold double precision,
          mem_fired_at timestamptz,
          mem_fired_value double precision,
          mem_fired_threshold double precision,
          restart_loop_fired_at timestamptz,
          restart_loop_fired_value double precision,
          restart_loop_fired_threshold double precision,
          last_oom_at timestamptz,
          evaluated_through timestamptz,
          updated_at timestamptz NOT NULL DEFAULT now()
        )`.execute(db);

      // Every transition, also the outbox of the bus: published_at is set once it is on
      // <prefix>.v1.alerts.<host>.<container>.
      await sql`
        CREATE TABLE alert_history (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          container_id bigint NOT NULL,
          ts timestamptz NOT NULL,
          metric text NOT NULL CHECK (metric IN ('cpu', 'memory', 'oom', 'restart_loop')),
          change text NOT NULL CHECK (change IN ('fired', 'resolved')),
          value double precision,
          threshold double precision,
          previous_state text NOT NULL,
          new_state text NOT NULL,
          recorded_at timestamptz NOT NULL DEFAULT now(),
          published_at timestamptz
        )`.execute(db);
      await sql`CREATE INDEX alert_history_by_container ON alert_history (container_id, ts DESC, id DESC)`.execute(
        db,
      );
      await sql`CREATE INDEX alert_history_ts ON alert_history (ts)`.execute(db);
      await sql`CREATE INDEX alert_history_unpublished ON alert_history (id) WHERE published_at IS NULL`.execute(
        db,
      );
    },
  },

  "0005-idempotent-day-partitions": {
    async up(db: Kysely<unknown>) {
      // 0001's function looked for the partition again after taking the lock with to_regclass,
      // which reads the session's catalog cache: an advisory lock does not refresh it, so a
      // second creator that had queued for the lock still saw no partition and failed with
      // "relation … already exists" (logged as a database outage, and retried). Now the look
      // under the lock reads pg_class with the statement's own snapshot, taken after the lock
      // was granted, so it sees what the creator before it committed
      // (db/partitions.int.test.ts).
      await sql`
        CREATE OR REPLACE FUNCTION crowsnest_ensure_day_partition(parent text, day date) RETURNS boolean
        LANGUAGE plpgsql AS $$
        DECLARE
          partition_name text := parent || '_p' || to_char(day, 'YYYYMMDD');
        BEGIN
          IF to_regclass(partition_name) IS NOT NULL THEN
            RETURN false;
          END IF;
          PERFORM pg_advisory_xact_lock(1131573760, hashtext(parent));
          IF EXISTS (
            SELECT FROM pg_class
            WHERE relname = partition_name AND relnamespace = current_schema()::regnamespace
          ) THEN
            RETURN false;
          END IF;
          -- Created apart, then attached: see 0001.
          EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name, parent);
          EXECUTE format(
            'ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
            parent, partition_name,
            (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
          RETURN true;
        END $$`.execute(db);
    },
  },

  // Notification channels, routes, mutes and the delivery log (services/store/src/notifications).
  "0006-notifications": {
    async up(db: Kysely<unknown>) {
      await sql`
        CREATE TABLE notification_channels (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL UNIQUE,
          type text NOT NULL CHECK (type IN ('webhook', 'slack', 'discord', 'ntfy', 'email')),
          enabled boolean NOT NULL DEFAULT true,
          settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
          -- Write-only through the api; never returned, never logged.
          secrets jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(secrets) = 'object'),
          -- Messages per minute; more transitions of one container are folded into one message.
          rate_limit_per_minute integer NOT NULL DEFAULT 30 CHECK (rate_limit_per_minute BETWEEN 1 AND 10000),
          -- Set when the limit is reached: nothing is sent before it, and until a minute after it
          -- backlogs are folded before each send.
          rate_limited_until timestamptz,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now(),
          -- The store instance that sends this channel's messages, one at a time in order, until
          -- lease_until (renewed while it works; another instance takes over when it lapses).
          lease_owner text,
          lease_until timestamptz
        )`.execute(db);
      await sql`
        CREATE TABLE notification_routes (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL UNIQUE,
          enabled boolean NOT NULL DEFAULT true,
          channel_ids bigint[] NOT NULL CHECK (cardinality(channel_ids) BETWEEN 1 AND 50),
          -- Empty selector or list: matches every container, host, metric, change or severity.
          selector jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(selector) = 'object'),
          hosts text[] NOT NULL DEFAULT '{}',
          metrics text[] NOT NULL DEFAULT '{}',
          changes text[] NOT NULL DEFAULT '{}',
          severities text[] NOT NULL DEFAULT '{}',
          -- {"start": "22:00", "end": "07:00", "time_zone": "Europe/Paris"}: held until the end.
          quiet_hours jsonb,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        )`.execute(db);
      await sql`
        CREATE TABLE notification_mutes (
          container_id bigint PRIMARY KEY REFERENCES containers (id) ON DELETE CASCADE,
          until timestamptz,
          created_at timestamptz NOT NULL DEFAULT now()
        )`.execute(db);
      // One row per (transition, channel): the unique key is what makes a redelivered transition,
      // or one seen by two store instances, a single message. Deleted with the transition.
      await sql`
        CREATE TABLE notification_deliveries (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          transition_id bigint NOT NULL REFERENCES alert_history (id) ON DELETE CASCADE,
          channel_id bigint NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
          container_id bigint NOT NULL,
          notification jsonb NOT NULL,
          status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'retrying', 'sent', 'gave_up', 'folded')),
          attempts integer NOT NULL DEFAULT 0,
          next_attempt_at timestamptz NOT NULL DEFAULT now(),
          last_answer text,
          queued_at timestamptz NOT NULL DEFAULT now(),
          finished_at timestamptz,
          CONSTRAINT notification_deliveries_once UNIQUE (transition_id, channel_id)
        )`.execute(db);
      await sql`
        CREATE INDEX notification_deliveries_pending ON notification_deliveries (channel_id, transition_id, id)
        WHERE status IN ('queued', 'retrying')`.execute(db);
      await sql`CREATE INDEX notification_deliveries_sent ON notification_deliveries (channel_id, finished_at)
        WHERE status = 'sent'`.execute(db);
      await sql`
        CREATE TABLE notification_delivery_log (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          delivery_id bigint NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
          ts timestamptz NOT NULL DEFAULT now(),
          event text NOT NULL CHECK (event IN ('queued', 'sent', 'failed', 'gave_up', 'folded', 'held')),
          attempt integer NOT NULL DEFAULT 0,
          answer text
        )`.execute(db);
      await sql`CREATE INDEX notification_delivery_log_by_delivery ON notification_delivery_log (delivery_id, id)`.execute(
        db,
      );
    },
  },

  // The minute rollup tier (rollup/rollup-spec.ts): day partitions made like the raw tables'
  // (crowsnest_ensure_day_partition), by the rollup job before it writes a day and by retention
  // ahead of time. No index on bucket alone: retention drops whole days and every reader asks
  // for one or more keys.
  "0007-minute-rollups": {
    async up(db: Kysely<unknown>) {
      for (const statement of minuteTableSql()) await sql.raw(statement).execute(db);
    },
  },

  "0008-alert-settings-in-effect": {
    async up(db: Kysely<unknown>) {
      // The one definition of the alert settings in effect, read by the store's engine and the
      // api alike: a container's own row wins (also when it turns alerting off); else the
      // matching label rule (its selector contained in the container's labels) with the highest
      // priority, then the lowest id; else no row, no alerting.
      const columns = [
        "enabled",
        "cpu_threshold",
        "cpu_basis",
        "mem_threshold",
        "consecutive_breaches",
        "oom_alert",
        "restart_loop_count",
        "restart_loop_window_s",
      ];
      const own = columns.map((column) => `ac.${column}`).join(", ");
      const rule = columns.map((column) => `r.${column}`).join(", ");
      await sql
        .raw(`
        CREATE VIEW alert_settings_in_effect AS
        SELECT ac.container_id, 'container'::text AS source, NULL::bigint AS rule_id, NULL::text AS rule_name, ${own}
        FROM alert_configs ac
        UNION ALL
        SELECT c.id AS container_id, 'rule'::text AS source, r.id AS rule_id, r.name AS rule_name, ${rule}
        FROM containers c
        CROSS JOIN LATERAL (
          SELECT * FROM alert_rules r WHERE c.labels @> r.selector ORDER BY r.priority DESC, r.id LIMIT 1
        ) r
        WHERE NOT EXISTS (SELECT 1 FROM alert_configs own WHERE own.container_id = c.id)`)
        .execute(db);
    },
  },

  // Pids in the container rollups (average and maximum, rollup/rollup-spec.ts). Catalog-only
  // changes (nullable columns, a constant default): no table is rewritten. Buckets computed
  // before hold no pids; the history of those times shows none rather than zero.
  "0009-rollup-pids": {
    async up(db: Kysely<unknown>) {
      for (const statement of addedGaugeSql("0009-rollup-pids")) await sql.raw(statement).execute(db);
    },
  },

  "0010-container-restarts": {
    async up(db: Kysely<unknown>) {
      // The one definition of a restart, read by the store's restart-loop alert and the api's
      // restart counts alike: a new run of the same container. Docker (and every runtime but
      // Kubernetes): a start that follows a die of the container — the first start is none, and
      // `docker restart` (die, start, restart) counts once. Kubernetes: a restart event, one per
      // step of the kubelet's restartCount (the watcher publishes a start and a restart for a
      // restart it sees, and a restart alone for one it missed). Readers filter by container and
      // time, which Postgres pushes into the events index.
      await sql`
        CREATE VIEW container_restarts AS
        SELECT e.id AS event_id, e.container_id, e.ts
        FROM container_events e
        JOIN containers c ON c.id = e.container_id
        WHERE CASE WHEN c.runtime = 'kubernetes' THEN e.action = 'restart'
          ELSE e.action = 'start' AND EXISTS (
            SELECT FROM container_events d
            WHERE d.container_id = e.container_id AND d.action = 'die' AND d.ts < e.ts)
        END`.execute(db);
    },
  },

  // The minute tables' primary key INCLUDEs the columns charts read (rollup-spec.ts,
  // chartCoveredColumns): the minute job writes every container's minute together, so one
  // container's 1 440 minutes of a day lay on about as many heap pages, and a 24 h chart read
  // ~1 400 of them; from the covering key it reads ~30 leaf pages (docs/benchmarks.md). The
  // rollup job keeps the visibility map current (VACUUM after it writes) so the scans stay
  // index-only. Rebuilds the key of every existing minute partition, in this transaction.
  "0011-covering-minute-keys": {
    async up(db: Kysely<unknown>) {
      for (const statement of minuteCoveringKeySql()) await sql.raw(statement).execute(db);
    },
  },

  // The five-minute tier (rollup-spec.ts, fiveMinuteTableSql): day partitions like the minute
  // tables', written by the minute job (rollup-job.ts). The minutes already stored are rolled up
  // here, day by day, so charts find five-minute rows for every day they find minutes for (about
  // 1.5 s per million minute rows; docs/store.md). Five minutes still open are rolled up partly
  // and completed by the minute job when their last minute is computed.
  "0012-five-minute-rollups": {
    async up(db: Kysely<unknown>) {
      for (const statement of fiveMinuteTableSql()) await sql.raw(statement).execute(db);
      for (const spec of ROLLUP_SPECS) {
        const minuteTable = `${spec.raw}_minute` as const;
        const partitions = await sql<{ name: string }>`
          SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = ${minuteTable}::regclass ORDER BY 1`.execute(db);
        for (const { name } of partitions.rows) {
          const day = partitionDay(minuteTable, name);
          if (day === undefined) continue;
          const start = dayStart(day);
          await sql`SELECT crowsnest_ensure_day_partition(${rollupTable(spec, "five_minute")}, ${start.toISOString().slice(0, 10)}::date)`.execute(
            db,
          );
          await rollupFromFinerTierStatement(spec, "five_minute", start, dayStart(day + 1)).execute(db);
        }
      }
    },
  },
};

const provider: MigrationProvider = {
  getMigrations: async () => migrations,
};

export async function migrateToLatest(db: Kysely<StoreDatabase>): Promise<string[]> {
  return migrate(db, (migrator) => migrator.migrateToLatest());
}

/** Applies the migrations up to and including `name` (tests of what a migration does to existing data). */
export async function migrateTo(db: Kysely<StoreDatabase>, name: string): Promise<string[]> {
  if (!(name in migrations)) throw new Error(`no migration named ${name}`);
  return migrate(db, (migrator) => migrator.migrateTo(name));
}

async function migrate(
  db: Kysely<StoreDatabase>,
  run: (migrator: Migrator) => ReturnType<Migrator["migrateToLatest"]>,
): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await run(migrator);
  if (error) throw error;
  return (results ?? [])
    .filter((result) => result.status === "Success")
    .map((result) => result.migrationName);
}
