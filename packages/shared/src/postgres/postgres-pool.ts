// The Postgres connection pool as the store and the api open it, behind Kysely.
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";

const INT8_OID = 20;

// bigint columns hold ids and byte counters, all far below 2^53, so numbers are exact and
// spare every caller a string conversion. Set per pool, not globally, so nothing else changes.
const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PostgresHandle<DB> {
  db: Kysely<DB>;
  pool: pg.Pool;
  destroy(): Promise<void>;
}

export function openPostgres<DB>(options: {
  url: string;
  poolSize: number;
  applicationName: string;
  /** A connection that dies while idle (a Postgres restart) is reported here instead of crashing the process. */
  onIdleError: (error: Error) => void;
}): PostgresHandle<DB> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    application_name: options.applicationName,
    types: typeParsers,
    connectionTimeoutMillis: 10_000,
  });
  pool.on("error", options.onIdleError);
  // pg's pool listens for errors only on idle clients; a client that is checked out when its
  // connection dies (a Postgres restart) emits "error" with nobody listening, which would end
  // the process. The query in flight already fails with that error (its caller retries) and the
  // pool drops the dead client when it comes back, so this listener only keeps the process up.
  pool.on("connect", (client) => {
    client.on("error", () => undefined);
  });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool, destroy: () => db.destroy() };
}
