// Per-host credentials against a real nats-server started with the generated authorization
// block: each host publishes and answers for itself only, the store and the api do their work,
// and the services connect through the same variables they read in production.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServers, startNatsServers } from "../../../../test/support/nats-servers.ts";
import { commonConfigFrom, commonEnv } from "../config/common-env.ts";
import { parseEnv } from "../config/env-spec.ts";
import { ensureConsumers, storeConsumerDefinitions, streamName } from "../jetstream/streams.ts";
import { createSubjects } from "../subjects/subjects.ts";
import { type Bus, openBus } from "./bus.ts";
import { authorizationBlock, type NatsUser, natsUsers, userEnvironment } from "./nats-authorization.ts";

const logger = pino({ level: "silent" });
const subjects = createSubjects("crowsnest");
const encoder = new TextEncoder();

/** The variables of one user's .env file, as a service would read them. */
function envOf(user: NatsUser, servers: NatsServers): Record<string, string> {
  const env: Record<string, string> = { CROWSNEST_NATS_URL: servers.urls.join(",") };
  for (const line of userEnvironment(user).split("\n")) {
    const [name, ...value] = line.split("=");
    if (name) env[name] = value.join("=");
  }
  return env;
}

describe("per-host NATS credentials", () => {
  let servers: NatsServers;
  const users = natsUsers({ subjects, hosts: ["web-1", "db.example"] });
  const userFor = (name: string) => {
    const user = users.find((each) => each.user === name);
    if (user === undefined) throw new Error(`no user ${name}`);
    return user;
  };
  const buses: Bus[] = [];
  const open = async (user: NatsUser, host: string) => {
    const config = commonConfigFrom(parseEnv(commonEnv, envOf(user, servers)));
    const bus = await openBus({
      config,
      service: user.role === "host" ? "collector" : user.role,
      host,
      logger,
    });
    buses.push(bus);
    return bus;
  };
  let store: Bus;
  let api: Bus;
  let web: Bus;
  let db: Bus;

  beforeAll(async () => {
    servers = await startNatsServers({ count: 1, extraConfig: authorizationBlock(users) });
    // The store first, as in a deployment where it owns the streams; the hosts only check them.
    store = await open(userFor("crowsnest-store"), "store-1");
    await ensureConsumers(
      await jetstreamManager(store.nc),
      storeConsumerDefinitions(subjects, { maxAckPending: 100, ackWaitMs: 30_000 }),
      logger,
    );
    api = await open(userFor("crowsnest-api"), "api-1");
    web = await open(userFor("host-web-1"), "web-1");
    db = await open(userFor("host-db~2Eexample"), "db.example");
  }, 60_000);

  afterAll(async () => {
    for (const bus of buses) await bus.drain().catch(() => undefined);
    await servers?.remove();
  });

  const storedOn = async (nc: NatsConnection, subject: string) => {
    const info = await (await jetstreamManager(nc)).streams.info(streamName(subjects, "telemetry"), {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  };

  it("lets a host publish its own samples, events and heartbeats", async () => {
    const ack = await web.js.publish(subjects.stats("web-1", "docker", "app"), encoder.encode("{}"), {
      msgID: "own-1",
    });
    expect(ack.stream).toBe(streamName(subjects, "telemetry"));
    await web.js.publish(subjects.hostStats("web-1"), encoder.encode("{}"));
    await web.js.publish(subjects.event("web-1", "docker", "container", "start"), encoder.encode("{}"));
    web.nc.publish(subjects.agent("web-1", "watcher"), encoder.encode("{}"));
    await web.nc.flush();
    expect(await storedOn(store.nc, subjects.stats("web-1", "docker", "app"))).toBe(1);
  });

  it("refuses a host's samples and alert transitions for another host", async () => {
    const forged = subjects.stats("db.example", "docker", "app");
    const refused = (subject: string) => `Permissions Violation for Publish to "${subject}"`;
    await expect(web.js.publish(forged, encoder.encode("{}"))).rejects.toThrow(refused(forged));
    for (const alert of [subjects.alert("db.example", "app"), subjects.alert("web-1", "app")]) {
      await expect(web.js.publish(alert, encoder.encode("{}"))).rejects.toThrow(refused(alert));
    }
    expect(await storedOn(store.nc, forged)).toBe(0);
    const alerts = await (await jetstreamManager(store.nc)).streams.info(streamName(subjects, "alerts"));
    expect(alerts.state.messages).toBe(0);
    // The connection survives the refusals: the host keeps publishing its own.
    await web.js.publish(subjects.stats("web-1", "docker", "app"), encoder.encode("{}"), { msgID: "own-2" });
  });

  it("answers only its own host's requests and never sees replies meant for others", async () => {
    const ownRequests = web.nc.subscribe(subjects.rpc("web-1", "inspect"));
    void (async () => {
      for await (const request of ownRequests) request.respond(encoder.encode("web-1 answers"));
    })();
    const dbRequests = db.nc.subscribe(subjects.rpc("db.example", "logs"));
    void (async () => {
      for await (const request of dbRequests) request.respond(encoder.encode("db secret log line"));
    })();
    // Snooping: every reply inbox, and another host's requests.
    const snoops = [web.nc.subscribe("_INBOX.>"), web.nc.subscribe(subjects.rpc("db.example", "logs"))];
    const snooped: string[] = [];
    const refusals = snoops.map(async (snoop) => {
      try {
        for await (const message of snoop) snooped.push(message.string());
        return "closed without error";
      } catch (error) {
        return error instanceof errors.PermissionViolationError ? "refused" : String(error);
      }
    });
    await web.nc.flush();

    const own = await api.nc.request(subjects.rpc("web-1", "inspect"), encoder.encode("{}"), {
      timeout: 5000,
    });
    expect(own.string()).toBe("web-1 answers");
    const other = await api.nc.request(subjects.rpc("db.example", "logs"), encoder.encode("{}"), {
      timeout: 5000,
    });
    expect(other.string()).toBe("db secret log line");
    expect(await Promise.all(refusals)).toEqual(["refused", "refused"]);
    expect(snooped).toEqual([]);
  });

  it("lets the store consume what the hosts published", async () => {
    const consumer = await jetstream(store.nc).consumers.get(
      streamName(subjects, "telemetry"),
      "store-stats",
    );
    const batch = await consumer.fetch({ max_messages: 10, expires: 2000 });
    const seen: string[] = [];
    for await (const message of batch) {
      seen.push(message.subject);
      message.ack();
    }
    expect(seen).toContain(subjects.stats("web-1", "docker", "app"));
  });
});
