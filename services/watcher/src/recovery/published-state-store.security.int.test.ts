// The watcher-state bucket under per-host NATS credentials (`pnpm nats-auth`): a host's watcher
// creates the bucket, writes, reads, lists and deletes its own host's keys, and is refused
// another host's.
import { authorizationBlock, createLogger, createSubjects, natsUsers } from "@crowsnest/shared";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServers, startNatsServers } from "../../../../test/support/nats-servers.ts";
import { openWatcherStateBucket, type StateBucket } from "./published-state-store.ts";

const subjects = createSubjects("crowsnest");
const logger = createLogger({ service: "watcher", level: "silent" });
const encoder = new TextEncoder();

describe("the watcher-state bucket with per-host credentials", () => {
  let servers: NatsServers;
  let nc: NatsConnection;
  let bucket: StateBucket;

  beforeAll(async () => {
    const users = natsUsers({ subjects, hosts: ["web-1", "db.example"] });
    servers = await startNatsServers({ count: 1, extraConfig: authorizationBlock(users) });
    const web = users.find((user) => user.host === "web-1");
    if (web === undefined) throw new Error("no user for web-1");
    nc = await connect({
      servers: [...servers.urls],
      user: web.user,
      pass: web.password,
      inboxPrefix: web.inboxPrefix,
    });
    bucket = await openWatcherStateBucket(jetstream(nc), subjects, { replicas: 1, logger });
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await servers?.remove();
  });

  it("reads and writes its own host's keys", async () => {
    await bucket.put("web-1.docker.objects.app", encoder.encode("{}"));
    const stored = await bucket.get("web-1.docker.objects.app");
    expect(new TextDecoder().decode(stored?.value)).toBe("{}");
    const keys: string[] = [];
    for await (const key of await bucket.keys("web-1.docker.>")) keys.push(key);
    expect(keys).toEqual(["web-1.docker.objects.app"]);
    await bucket.delete("web-1.docker.objects.app");
    expect((await bucket.get("web-1.docker.objects.app"))?.operation).toBe("DEL");
  });

  it("is refused another host's keys", async () => {
    const other = "db=2Eexample.docker.objects.app";
    await expect(bucket.put(other, encoder.encode("{}"))).rejects.toThrow(
      /Permissions Violation for Publish/,
    );
    await expect(bucket.get(other)).rejects.toThrow(/Permissions Violation for Publish/);
  });
});
