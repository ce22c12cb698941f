// The alert settings in effect, as the api shows them and as the store's engine applies them,
// for the cases where a second definition would drift: a container's own settings that turn
// alerting off, rules tied on priority, a higher priority over a lower id, a disabled rule,
// selectors that must match exactly, and no match at all. Both read the store's view
// alert_settings_in_effect; this test pins the answers and that the two sides agree.

import { createSubjects } from "@crowsnest/shared";
import { openPostgres, type PostgresHandle } from "@crowsnest/shared/postgres";
import type { NatsConnection } from "@nats-io/transport-node";
import { sql } from "kysely";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_READ_TOKEN, type TestApp } from "../../../../test/support/api-app.ts";
import { connectTestNats, testSubjectPrefix } from "../../../../test/support/test-env.ts";
import { AlertConfigCache, type EffectiveSettings } from "../../../store/src/alerts/alert-config-cache.ts";
import {
  type MigratedDatabase,
  openMigratedDatabase,
} from "../../../store/src/fixtures/migrated-database.ts";
import type { ApiDatabase } from "../db/api-database.ts";

/** The settings both sides report, in the api's JSON names. */
interface InEffect {
  source: "container" | "rule" | "none";
  rule: string | null;
  enabled: boolean;
  cpu_threshold: number | null;
  mem_threshold: number | null;
}

const RULES = [
  { name: "web", selector: { tier: "web" }, priority: 5, cpu_threshold: 50 },
  { name: "batch", selector: { team: "batch" }, priority: 5, cpu_threshold: 60 },
  { name: "web-batch", selector: { tier: "web", team: "batch" }, priority: 1, cpu_threshold: 70 },
  { name: "prod-off", selector: { env: "prod" }, priority: -10, cpu_threshold: 80, enabled: false },
  { name: "batch-eu", selector: { team: "batch", zone: "eu" }, priority: 9, cpu_threshold: 95 },
];

/** Container name → its labels and what must be in effect for it. */
const CASES: Record<string, { labels: Record<string, string>; expected: InEffect }> = {
  // Its own row wins over the matching "web" rule, also when it turns alerting off.
  own: {
    labels: { tier: "web" },
    expected: { source: "container", rule: null, enabled: false, cpu_threshold: null, mem_threshold: 40 },
  },
  // "web" and "batch" tie on priority 5: the lower id ("web", created first) wins; "web-batch"
  // matches too but has priority 1.
  tie: {
    labels: { tier: "web", team: "batch" },
    expected: { source: "rule", rule: "web", enabled: true, cpu_threshold: 50, mem_threshold: 90 },
  },
  // Priority 9 wins over every lower id.
  priority: {
    labels: { tier: "web", team: "batch", zone: "eu" },
    expected: { source: "rule", rule: "batch-eu", enabled: true, cpu_threshold: 95, mem_threshold: 90 },
  },
  // A disabled rule is what is in effect (alerting off); it does not fall through to another.
  disabled: {
    labels: { env: "prod", unrelated: "x" },
    expected: { source: "rule", rule: "prod-off", enabled: false, cpu_threshold: 80, mem_threshold: 90 },
  },
  // Label values match exactly: "Web" is not "web".
  "case-differs": {
    labels: { tier: "Web" },
    expected: { source: "none", rule: null, enabled: false, cpu_threshold: 90, mem_threshold: 90 },
  },
  none: {
    labels: {},
    expected: { source: "none", rule: null, enabled: false, cpu_threshold: 90, mem_threshold: 90 },
  },
};

/** What the store's engine applies, in the api's terms; a container without settings has none. */
function storeView(settings: EffectiveSettings | undefined): InEffect {
  if (settings === undefined) {
    return { source: "none", rule: null, enabled: false, cpu_threshold: 90, mem_threshold: 90 };
  }
  return {
    source: settings.source.kind,
    rule: settings.source.kind === "rule" ? settings.source.name : null,
    enabled: settings.enabled,
    cpu_threshold: settings.cpuThreshold,
    mem_threshold: settings.memThreshold,
  };
}

describe("the alert settings in effect, api and store", () => {
  let database: MigratedDatabase;
  let apiPostgres: PostgresHandle<ApiDatabase>;
  let nc: NatsConnection;
  let testApp: TestApp;
  const ids = new Map<string, number>();

  beforeAll(async () => {
    database = await openMigratedDatabase("alert-settings-agreement");
    for (const [name, { labels }] of Object.entries(CASES)) {
      const inserted = await sql<{ id: number }>`
        INSERT INTO containers (host, runtime, external_id, name, labels)
        VALUES ('host-a', 'docker', ${name.padEnd(64, "0")}, ${name}, ${JSON.stringify(labels)}::jsonb)
        RETURNING id`.execute(database.db);
      const row = inserted.rows[0];
      if (row === undefined) throw new Error(`container ${name} not inserted`);
      ids.set(name, row.id);
    }
    for (const rule of RULES) {
      await database.db
        .insertInto("alert_rules")
        .values({ ...rule, selector: JSON.stringify(rule.selector) })
        .execute();
    }
    await database.db
      .insertInto("alert_configs")
      .values({ container_id: ids.get("own") ?? 0, enabled: false, cpu_threshold: null, mem_threshold: 40 })
      .execute();
    apiPostgres = openPostgres<ApiDatabase>({
      url: database.url,
      poolSize: 2,
      applicationName: "alert-settings-agreement-api",
      onIdleError: () => undefined,
    });
    nc = await connectTestNats();
    testApp = await createTestApp({
      postgres: apiPostgres,
      nc,
      subjects: createSubjects(testSubjectPrefix()),
    });
  });

  afterAll(async () => {
    await testApp?.close();
    await nc?.close();
    await apiPostgres?.destroy();
    await database?.close();
  });

  it("gives every case the expected settings, the same on both sides", async () => {
    const cache = new AlertConfigCache({ db: database.db, logger: pino({ level: "silent" }) });
    const snapshot = await cache.reload();
    for (const [name, { expected }] of Object.entries(CASES)) {
      const id = ids.get(name);
      const response = await testApp.app.request(`/api/v1/containers/${id}/alerts/config`, {
        headers: { Authorization: `Bearer ${TEST_READ_TOKEN}` },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as InEffect & { rule: { name: string } | null };
      const api: InEffect = {
        source: body.source,
        rule: body.rule?.name ?? null,
        enabled: body.enabled,
        cpu_threshold: body.cpu_threshold,
        mem_threshold: body.mem_threshold,
      };
      expect({ name, api }).toEqual({ name, api: expected });
      expect({ name, store: storeView(snapshot.settings.get(id ?? 0)) }).toEqual({ name, store: expected });
    }
  });
});
