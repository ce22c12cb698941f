// Per-host NATS credentials: which subjects each Crowsnest user may publish and subscribe to,
// written as a nats-server `authorization` block. A host's user (its collector and watcher
// share it) may publish only its own host's samples, events, inventories and heartbeats and
// answer only its own host's RPC subjects, so a compromised or misconfigured host cannot speak
// for another one, read another host's log replies, or send alert transitions (the store's).
//
// Replies: each host receives on an inbox prefix of its own (`_INBOX_<user>`, its services'
// CROWSNEST_NATS_INBOX_PREFIX) and may subscribe only to that one, so no other host's replies
// (JetStream acks, probe answers) reach it. The store and the api, trusted, keep the standard
// `_INBOX`, which hosts may publish to (inbox names are random and hosts cannot subscribe there)
// so that a watcher can stream log chunks to the api that asked.
import { randomBytes } from "node:crypto";
import { DEFAULT_STREAM_RETENTION, streamDefinitions, watcherStateBucketName } from "../jetstream/streams.ts";
import { encodeSubjectToken } from "../subjects/subject-token.ts";
import type { Subjects } from "../subjects/subjects.ts";

export type NatsUserRole = "host" | "store" | "api";

export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Whether the user may answer requests it received (on their reply subjects). */
  readonly allowResponses: boolean;
}

export interface NatsUser {
  readonly role: NatsUserRole;
  /** The host a host user speaks for. */
  readonly host?: string;
  readonly user: string;
  readonly password: string;
  /** CROWSNEST_NATS_INBOX_PREFIX for the services using this user. */
  readonly inboxPrefix: string;
  readonly permissions: NatsPermissions;
}

/** The NATS clients' default inbox prefix, kept by the store and the api. */
export const STANDARD_INBOX_PREFIX = "_INBOX";

/** The JetStream API subjects for reading and creating (never updating or deleting) a stream. */
function streamCreation(stream: string): string[] {
  return [`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`];
}

/** The stream behind a JetStream KV bucket. */
function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** A host name as the watcher writes it in its KV keys (`=` for the subject token's `~`). */
function kvHostToken(host: string): string {
  return encodeSubjectToken(host).replaceAll("~", "=");
}

/** What one host's collector and watcher need, and nothing of any other host. */
export function hostPermissions(subjects: Subjects, host: string, inboxPrefix: string): NatsPermissions {
  const watcherStateBucket = watcherStateBucketName(subjects);
  const streams = streamDefinitions(subjects, DEFAULT_STREAM_RETENTION).map(({ config }) => config.name);
  const bucketStream = kvStream(watcherStateBucket);
  const ownKeys = `$KV.${watcherStateBucket}.${kvHostToken(host)}.>`;
  return {
    publish: [
      subjects.stats(host, { any: true }, { any: true }),
      subjects.hostStats(host),
      subjects.event(host, { any: true }, { any: true }, { any: true }),
      subjects.inventory(host, { any: true }),
      subjects.agent(host, "collector"),
      subjects.agent(host, "watcher"),
      subjects.deadletter("collector"),
      subjects.deadletter("watcher"),
      // JetStream: the account check, and the streams (created if missing; never changed or deleted).
      "$JS.API.INFO",
      ...streams.flatMap(streamCreation),
      // The watcher's state bucket: its own host's keys only.
      ...streamCreation(bucketStream),
      ownKeys,
      `$JS.API.DIRECT.GET.${bucketStream}.${ownKeys}`,
      `$JS.API.CONSUMER.CREATE.${bucketStream}.*.${ownKeys}`,
      // Listing keys runs an ordered consumer; its info and deletion name no key.
      `$JS.API.CONSUMER.INFO.${bucketStream}.*`,
      `$JS.API.CONSUMER.DELETE.${bucketStream}.*`,
      `$JS.FC.${bucketStream}.>`,
      // Log chunks to the api's inbox.
      "_INBOX.>",
    ],
    subscribe: [subjects.rpc(host, "logs"), subjects.rpc(host, "inspect"), `${inboxPrefix}.>`],
    allowResponses: false,
  };
}

export function storePermissions(subjects: Subjects, inboxPrefix: string): NatsPermissions {
  return {
    publish: [
      subjects.alert({ any: true }, { any: true }),
      subjects.agent({ any: true }, "store"),
      subjects.deadletter("store"),
      // Administration of streams and consumers, fetching, acknowledging.
      "$JS.API.>",
      "$JS.ACK.>",
      "$JS.FC.>",
    ],
    subscribe: [`${inboxPrefix}.>`],
    allowResponses: false,
  };
}

export function apiPermissions(subjects: Subjects, inboxPrefix: string): NatsPermissions {
  return {
    publish: [
      subjects.rpc({ any: true }, "logs"),
      subjects.rpc({ any: true }, "inspect"),
      subjects.agent({ any: true }, "api"),
      subjects.deadletter("api"),
      "$JS.API.>",
    ],
    // The live feed and the agent registry read everything the hosts and the store publish.
    subscribe: [`${subjects.root}.>`, `${inboxPrefix}.>`],
    // Answers a watcher's "are you still listening" probe while streaming logs.
    allowResponses: true,
  };
}

export interface AuthorizationOptions {
  subjects: Subjects;
  hosts: readonly string[];
  /** Injected for tests; defaults to 24 random bytes, base64url. */
  newPassword?: () => string;
}

function randomPassword(): string {
  return randomBytes(24).toString("base64url");
}

/** The user for each host, then the store's and the api's. */
export function natsUsers(options: AuthorizationOptions): NatsUser[] {
  const newPassword = options.newPassword ?? randomPassword;
  const named = (role: NatsUserRole, user: string, host?: string) => {
    const inboxPrefix = role === "host" ? `_INBOX_${user}` : STANDARD_INBOX_PREFIX;
    const permissions =
      role === "host"
        ? hostPermissions(options.subjects, host ?? "", inboxPrefix)
        : role === "store"
          ? storePermissions(options.subjects, inboxPrefix)
          : apiPermissions(options.subjects, inboxPrefix);
    return {
      role,
      user,
      password: newPassword(),
      inboxPrefix,
      permissions,
      ...(host === undefined ? {} : { host }),
    };
  };
  const seen = new Set<string>();
  const users: NatsUser[] = [];
  for (const host of options.hosts) {
    const user = `host-${encodeSubjectToken(host)}`;
    if (seen.has(user)) throw new Error(`host "${host}" is listed twice`);
    seen.add(user);
    users.push(named("host", user, host));
  }
  users.push(named("store", "crowsnest-store"), named("api", "crowsnest-api"));
  return users;
}

/** nats-server's configuration syntax accepts JSON strings and arrays. */
function list(values: readonly string[]): string {
  return `[${values.map((value) => JSON.stringify(value)).join(", ")}]`;
}

/** The `authorization { users = [...] }` block for nats-server's configuration file. */
export function authorizationBlock(users: readonly NatsUser[]): string {
  const entries = users.map((user) => {
    const { publish, subscribe, allowResponses } = user.permissions;
    return [
      `    # ${user.role}${user.host === undefined ? "" : ` ${user.host}`}`,
      `    { user: ${JSON.stringify(user.user)}, password: ${JSON.stringify(user.password)}, permissions: {`,
      `        publish: { allow: ${list(publish)} }`,
      `        subscribe: { allow: ${list(subscribe)} }`,
      ...(allowResponses ? ["        allow_responses: true"] : []),
      "    } }",
    ].join("\n");
  });
  return [
    "# Written by `pnpm nats-auth`: one user per host, one for the store, one for the api.",
    "authorization {",
    "  users = [",
    ...entries,
    "  ]",
    "}",
    "",
  ].join("\n");
}

/** The variables a service sets to connect as `user` (CROWSNEST_NATS_USER and friends). */
export function userEnvironment(user: NatsUser): string {
  return [
    `CROWSNEST_NATS_USER=${user.user}`,
    `CROWSNEST_NATS_PASSWORD=${user.password}`,
    `CROWSNEST_NATS_INBOX_PREFIX=${user.inboxPrefix}`,
    "",
  ].join("\n");
}

/** Names a Secret key may have (Kubernetes: `[-._a-zA-Z0-9]+`). */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** One Secret of the Kubernetes manifests, its values as block scalars (no YAML library needed at run time). */
function secretManifest(name: string, namespace: string, entries: readonly [string, string][]): string {
  return [
    "apiVersion: v1",
    "kind: Secret",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    "  labels:",
    "    app.kubernetes.io/part-of: crowsnest",
    "type: Opaque",
    "stringData:",
    ...entries.flatMap(([key, value]) => [
      `  ${key}: |`,
      ...value
        .trimEnd()
        .split("\n")
        .map((line) => `    ${line}`),
    ]),
  ].join("\n");
}

/**
 * The Secrets deploy/kubernetes mounts: the store's and the api's user, and one key per node
 * (`<node name>.env`) for the agents, each of which reads its own node's
 * (CROWSNEST_NATS_CREDENTIALS_FILE, docs/nats-security.md).
 */
export function kubernetesSecrets(users: readonly NatsUser[], namespace = "crowsnest"): string {
  const hosts = users.filter((user) => user.role === "host");
  for (const user of hosts) {
    if (!SECRET_KEY.test(user.host ?? "")) {
      throw new Error(
        `host "${user.host}" is not a Kubernetes node name (letters, digits, "-", "." and "_" only)`,
      );
    }
  }
  const single = (role: NatsUserRole): [string, string][] =>
    users.filter((user) => user.role === role).map((user) => ["nats.env", userEnvironment(user)]);
  return [
    "# Written by `pnpm nats-auth --kubernetes`: the NATS users of deploy/kubernetes (docs/nats-security.md).",
    secretManifest("crowsnest-nats-store", namespace, single("store")),
    "---",
    secretManifest("crowsnest-nats-api", namespace, single("api")),
    "---",
    "# One key per node; each agent pod reads its own node's (every agent pod mounts them all).",
    secretManifest(
      "crowsnest-nats-agents",
      namespace,
      hosts.map((user) => [`${user.host}.env`, userEnvironment(user)]),
    ),
    "",
  ].join("\n");
}
