import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { createSubjects } from "../subjects/subjects.ts";
import {
  authorizationBlock,
  kubernetesSecrets,
  type NatsUser,
  natsUsers,
  userEnvironment,
} from "./nats-authorization.ts";

const subjects = createSubjects("crowsnest");

describe("natsUsers", () => {
  const users = natsUsers({ subjects, hosts: ["web-1", "db.example"], newPassword: () => "secret" });

  it("gives each host a user confined to its own subject tokens and inbox", () => {
    const db = users.find((user) => user.host === "db.example");
    expect(db?.user).toBe("host-db~2Eexample");
    expect(db?.inboxPrefix).toBe("_INBOX_host-db~2Eexample");
    expect(db?.permissions.publish).toContain("crowsnest.v1.stats.db~2Eexample.*.*");
    expect(db?.permissions.publish).toContain("$KV.CROWSNEST_WATCHER_STATE.db=2Eexample.>");
    expect(db?.permissions.subscribe).toEqual([
      "crowsnest.v1.rpc.db~2Eexample.logs",
      "crowsnest.v1.rpc.db~2Eexample.inspect",
      "_INBOX_host-db~2Eexample.>",
    ]);
    // Nothing of the other host, no alerts, no stream updates.
    const everything = [...(db?.permissions.publish ?? []), ...(db?.permissions.subscribe ?? [])].join(" ");
    expect(everything).not.toContain("web-1");
    expect(everything).not.toContain(".alerts.");
    expect(everything).not.toContain("STREAM.UPDATE");
  });

  it("adds the store and the api, and refuses a host listed twice", () => {
    expect(users.map((user) => user.role)).toEqual(["host", "host", "store", "api"]);
    expect(() => natsUsers({ subjects, hosts: ["a", "a"] })).toThrow('host "a" is listed twice');
  });

  it("writes the block nats-server reads and each user's variables", () => {
    const block = authorizationBlock(users);
    expect(block).toContain('{ user: "crowsnest-store", password: "secret", permissions: {');
    expect(block).toContain('publish: { allow: ["crowsnest.v1.alerts.*.*"');
    const [web] = users;
    if (web === undefined) throw new Error("no users");
    expect(userEnvironment(web)).toBe(
      "CROWSNEST_NATS_USER=host-web-1\nCROWSNEST_NATS_PASSWORD=secret\nCROWSNEST_NATS_INBOX_PREFIX=_INBOX_host-web-1\n",
    );
  });
});

describe("kubernetesSecrets", () => {
  it("writes the store's and the api's user and one key per node, as deploy/kubernetes mounts them", () => {
    const users = natsUsers({
      subjects,
      hosts: ["worker-1", "ip-10-0-0-7.ec2.internal"],
      newPassword: () => "pw",
    });
    const secrets = parseAllDocuments(kubernetesSecrets(users)).map(
      (document) => document.toJS() as { metadata: { name: string }; stringData: Record<string, string> },
    );
    expect(secrets.map((secret) => secret.metadata.name)).toEqual([
      "crowsnest-nats-store",
      "crowsnest-nats-api",
      "crowsnest-nats-agents",
    ]);
    expect(secrets[0]?.stringData["nats.env"]).toBe(userEnvironment(users[2] as NatsUser));
    const agents = secrets[2]?.stringData ?? {};
    expect(Object.keys(agents)).toEqual(["worker-1.env", "ip-10-0-0-7.ec2.internal.env"]);
    expect(agents["ip-10-0-0-7.ec2.internal.env"]).toBe(userEnvironment(users[1] as NatsUser));
  });

  it("refuses a host that cannot be a node name (a Secret key)", () => {
    const users = natsUsers({ subjects, hosts: ["my laptop"], newPassword: () => "pw" });
    expect(() => kubernetesSecrets(users)).toThrow('host "my laptop" is not a Kubernetes node name');
  });
});
