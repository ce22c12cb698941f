// Per-test isolation on shared servers: every test gets its own database, subject prefix
// (and so its own JetStream streams), so tests never collide and can run twice in a row.
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { inject } from "vitest";

export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** A subject prefix no other test uses, e.g. `t-lx1k2a9f3b`. */
export function testSubjectPrefix(): string {
  return `t-${uniqueSuffix()}`;
}

export function natsUrl(): string {
  return inject("natsUrl");
}

export function workloadImage(): string {
  return inject("workloadImage");
}

export async function connectTestNats(): Promise<NatsConnection> {
  return connect({ servers: natsUrl(), name: "crowsnest-test" });
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database for one test file and returns its URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const name = `crowsnest_t_${uniqueSuffix()}`.replace(/-/g, "_");
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
  const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}`);
}
