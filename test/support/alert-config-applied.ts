// Waits until a running store applies the alert configuration as the database holds it now:
// the store logs each configuration version it puts in use, so a test that changed a setting
// or rule waits for that line instead of sleeping through the store's check interval.
import type { ServiceProcess } from "./service-process.ts";

/** The subset of pg's Client and Pool this needs. */
interface Queryable {
  query(text: string): Promise<{ rows: unknown[] }>;
}

export async function alertConfigApplied(store: ServiceProcess, database: Queryable): Promise<void> {
  const { rows } = await database.query("SELECT version::text AS version FROM alert_config_version");
  const version = Number((rows[0] as { version: string } | undefined)?.version);
  if (!Number.isSafeInteger(version)) throw new Error("alert_config_version has no version");
  await store.waitForLog(
    (record) => record.msg === "alert configuration in use" && Number(record.version) >= version,
    30_000,
  );
}
