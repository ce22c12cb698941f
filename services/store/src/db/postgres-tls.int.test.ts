// TLS toward Postgres, configured in CROWSNEST_DATABASE_URL as libpq has it (`sslmode`,
// `sslrootcert`): against a private Postgres serving a certificate the test makes with openssl,
// the pool the store and the api open verifies the server and encrypts; a server its CA did not
// sign is refused.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPostgres } from "@crowsnest/shared/postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LoopbackCertificate,
  selfSignedLoopbackCertificate,
} from "../../../../test/support/loopback-certificate.ts";
import { createPrivatePostgres, type PrivatePostgres } from "../fixtures/private-postgres.ts";

describe("TLS toward Postgres", () => {
  let directory: string;
  let server: LoopbackCertificate;
  let stranger: LoopbackCertificate;
  let postgres: PrivatePostgres;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "crowsnest-pg-tls-"));
    await mkdir(join(directory, "server"));
    await mkdir(join(directory, "stranger"));
    server = selfSignedLoopbackCertificate(join(directory, "server"));
    stranger = selfSignedLoopbackCertificate(join(directory, "stranger"));
    postgres = await createPrivatePostgres({ tls: server });
  }, 60_000);

  afterAll(async () => {
    postgres?.remove();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const query = async (url: string) => {
    const handle = openPostgres<unknown>({
      url,
      poolSize: 2,
      applicationName: "tls-test",
      onIdleError: () => undefined,
    });
    try {
      const result = await handle.pool.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      return result.rows[0]?.ssl as boolean;
    } finally {
      await handle.destroy();
    }
  };

  it("verifies the server against sslrootcert and encrypts the connection", async () => {
    expect(await query(`${postgres.url}?sslmode=verify-full&sslrootcert=${server.certPath}`)).toBe(true);
  });

  it("refuses a server the CA did not sign", async () => {
    await expect(
      query(`${postgres.url}?sslmode=verify-full&sslrootcert=${stranger.certPath}`),
    ).rejects.toThrow(/self-signed certificate|unable to verify|certificate/);
  });
});
