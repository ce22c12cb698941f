import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { commonConfigFrom, commonEnv } from "./common-env.ts";
import { parseEnv } from "./env-spec.ts";

const directory = mkdtempSync(join(tmpdir(), "crowsnest-credentials-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function credentialsFile(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

const configWith = (env: Record<string, string>) => commonConfigFrom(parseEnv(commonEnv, env));

describe("CROWSNEST_NATS_CREDENTIALS_FILE", () => {
  it("reads the user, password and inbox prefix `pnpm nats-auth` writes", () => {
    const path = credentialsFile(
      "host.env",
      "CROWSNEST_NATS_USER=host-web-1\nCROWSNEST_NATS_PASSWORD=s3cret=with=equals\nCROWSNEST_NATS_INBOX_PREFIX=_INBOX_host-web-1\n",
    );
    const config = configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: path });
    expect(config.natsUser).toEqual({ user: "host-web-1", password: "s3cret=with=equals" });
    expect(config.natsInboxPrefix).toBe("_INBOX_host-web-1");
    expect(config.natsToken).toBeUndefined();
  });

  it("keeps the standard inbox when the file names none, and skips comments", () => {
    const path = credentialsFile(
      "store.env",
      "# the store\nCROWSNEST_NATS_USER=crowsnest-store\nCROWSNEST_NATS_PASSWORD=pw\n",
    );
    expect(configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: path }).natsInboxPrefix).toBe("_INBOX");
  });

  it("refuses a missing file, a half one, an unknown line (without echoing it) and a second source", () => {
    expect(() => configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: join(directory, "absent.env") })).toThrow(
      /CROWSNEST_NATS_CREDENTIALS_FILE \(.*absent\.env\) cannot be read/,
    );
    const half = credentialsFile("half.env", "CROWSNEST_NATS_USER=only\n");
    expect(() => configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: half })).toThrow(
      "must set CROWSNEST_NATS_USER and CROWSNEST_NATS_PASSWORD",
    );
    const odd = credentialsFile("odd.env", "CROWSNEST_NATS_USER=u\npassword hunter2\n");
    expect(() => configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: odd })).toThrow(/line 2 is not one of/);
    expect(() => configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: odd })).not.toThrow(/hunter2/);
    const good = credentialsFile("good.env", "CROWSNEST_NATS_USER=u\nCROWSNEST_NATS_PASSWORD=p\n");
    expect(() => configWith({ CROWSNEST_NATS_CREDENTIALS_FILE: good, CROWSNEST_NATS_TOKEN: "t" })).toThrow(
      "is not used together with",
    );
  });
});
