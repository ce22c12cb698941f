// Everything the four services put on the bus, checked against the published contract: the
// real collector, watcher, store and api run as processes against real NATS, Postgres and
// dockerd; a busy container fires a CPU alert, dies, has its logs read through the api, and a
// malformed sample is dead-lettered. Every message captured under the test's prefix, and every
// RPC reply, must be valid by the committed JSON Schemas (ajv, not the services' own zod), and
// every message of the contract must have been seen at least once.
import { codecs, createSubjects } from "@crowsnest/shared";
import { jetstream } from "@nats-io/jetstream";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteTestStreams } from "../support/bus-fixtures.ts";
import {
  createContractValidator,
  messageNameForCodec,
  messageNameForSubject,
} from "../support/contract-validator.ts";
import { startWorkload, testDocker, type Workload } from "../support/docker-workloads.ts";
import { type ServiceStack, startServiceStack } from "../support/service-stack.ts";
import {
  connectTestNats,
  createTestDatabase,
  eventually,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
  uniqueSuffix,
} from "../support/test-env.ts";

/** Text that is not JSON stays text, which no schema accepts: the check reports it instead of the capture dying. */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

interface Captured {
  subject: string;
  name: string;
  payload: unknown;
}

describe("every message on the bus is valid by the published contract", () => {
  const prefix = testSubjectPrefix();
  const subjects = createSubjects(prefix);
  const host = `contract-${uniqueSuffix()}`;
  const readToken = `contract-read-${uniqueSuffix()}`;
  const adminToken = `contract-admin-${uniqueSuffix()}`;
  const docker = testDocker();
  const validator = createContractValidator();
  const captured: Captured[] = [];
  const unknownSubjects: string[] = [];
  // The one message this test sends that is meant to be invalid (for the dead letter).
  const malformedSample = `{"v":1,"host":"${host}","cpu_percent":-1}`;
  let database: TestDatabase;
  let stack: ServiceStack | undefined;
  let nc: NatsConnection;
  let apiBase: string;
  let workload: Workload | undefined;

  const api = (path: string, init: RequestInit = {}, token = readToken) =>
    fetch(`${apiBase}${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    nc = await connectTestNats();
    const firehose = nc.subscribe(`${subjects.root}.>`);
    void (async () => {
      for await (const message of firehose) {
        if (message.string() === malformedSample) continue;
        const name = messageNameForSubject(message.subject, prefix);
        if (name === undefined) unknownSubjects.push(message.subject);
        else captured.push({ subject: message.subject, name, payload: jsonOrText(message.string()) });
      }
    })();
    await nc.flush();
    const common = {
      CROWSNEST_NATS_URL: natsUrl(),
      CROWSNEST_SUBJECT_PREFIX: prefix,
      CROWSNEST_HOST_NAME: host,
      CROWSNEST_DATABASE_URL: database.url,
      CROWSNEST_HEARTBEAT_INTERVAL_MS: "1000",
    };
    stack = await startServiceStack({
      services: ["store", "api", "collector", "watcher"],
      common,
      env: {
        store: { CROWSNEST_INGEST_BATCH_WAIT_MS: "50" },
        api: { CROWSNEST_API_READ_TOKENS: readToken, CROWSNEST_API_ADMIN_TOKENS: adminToken },
        collector: { CROWSNEST_COLLECT_INTERVAL_MS: "1000" },
      },
    });
    apiBase = stack.apiBase;
  });

  afterAll(async () => {
    await workload?.remove();
    await stack?.stop();
    if (nc) {
      await deleteTestStreams(nc, prefix);
      await nc.close();
    }
    await database?.drop();
  });

  it("captures every kind of message, and each is valid by its JSON Schema", async () => {
    workload = await startWorkload(docker, {
      namePrefix: "contract-busy",
      script: "echo started; trap 'exit 7' TERM; while :; do :; done",
    });
    const started = workload;
    const seen = (name: string) => captured.some((message) => message.name === name);
    const containerId = await eventually(
      async () => {
        const response = await api(`/api/v1/containers?host=${host}&name=${started.name}`);
        const body = (await response.json()) as { data: { id: number; name: string }[] };
        return body.data.find((container) => container.name === started.name)?.id;
      },
      { timeoutMs: 20_000, what: "the container in the api" },
    );
    const config = await api(
      `/api/v1/containers/${containerId}/alerts/config`,
      { method: "PUT", body: JSON.stringify({ cpu_threshold: 1, consecutive_breaches: 1 }) },
      adminToken,
    );
    expect(config.status).toBe(200);
    await eventually(() => (seen("alert-transition") ? true : undefined), {
      timeoutMs: 45_000,
      what: "the CPU alert to fire on the bus",
    });

    // The api asks the watcher for logs (the request is captured on the rpc subject).
    expect((await api(`/api/v1/containers/${containerId}/logs?tail=10`)).status).toBe(200);

    // Replies go to the requester's inbox, outside the prefix: the test asks itself.
    const replies: Captured[] = [];
    const inspect = await nc.request(
      subjects.rpc(host, "inspect"),
      JSON.stringify({ v: 1, container: started.name }),
      { timeout: 10_000 },
    );
    replies.push({ subject: "inspect reply", name: "inspect-reply", payload: jsonOrText(inspect.string()) });
    const inbox = createInbox();
    // A watcher that never answers ends the loop with an error instead of holding the test.
    const chunks = nc.subscribe(inbox, { timeout: 10_000 });
    nc.publish(subjects.rpc(host, "logs"), JSON.stringify({ v: 1, container: started.name, tail: 5 }), {
      reply: inbox,
    });
    for await (const chunk of chunks) {
      const payload = jsonOrText(chunk.string()) as { ok?: boolean; done?: boolean };
      replies.push({ subject: "logs reply", name: "logs-reply", payload });
      if (payload.ok !== true || payload.done === true) break;
    }

    const js = jetstream(nc);
    await js.publish(subjects.stats(host, "docker", "malformed"), malformedSample);
    await started.container.stop({ t: 10 });

    const everyMessage = Object.keys(codecs)
      .map(messageNameForCodec)
      .filter((name) => !name.endsWith("-reply"));
    await eventually(
      () => {
        const missing = everyMessage.filter((name) => !seen(name));
        const die = captured.some(
          (message) => message.name === "event" && (message.payload as { action: string }).action === "die",
        );
        return missing.length === 0 && die ? true : undefined;
      },
      {
        timeoutMs: 30_000,
        what: `every message kind (so far: ${[...new Set(captured.map((message) => message.name))].join(", ")})`,
      },
    );
    const heartbeats = new Set(
      captured
        .filter((message) => message.name === "heartbeat")
        .map((message) => (message.payload as { service: string }).service),
    );
    expect([...heartbeats].sort()).toEqual(["api", "collector", "store", "watcher"]);

    const invalid = [...captured, ...replies]
      .map((message) => ({
        subject: message.subject,
        problems: validator.problems(message.name, message.payload),
      }))
      .filter((result) => result.problems !== undefined);
    expect(invalid).toEqual([]);
    expect(unknownSubjects).toEqual([]);
    expect(captured.length).toBeGreaterThan(20);
  }, 150_000);

  it("serves the contract from the running api without a token", async () => {
    const response = await fetch(`${apiBase}/api/v1/asyncapi.json`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { asyncapi: string }).asyncapi).toBe("3.0.0");
  });
});
