// `pnpm nats-auth`: writes nats-server's authorization block for a list of hosts, and the
// variables each service connects with (docs/nats-security.md). Run it again to add a host:
// every password is new, so every service's variables must be replaced too.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createSubjects, DEFAULT_SUBJECT_PREFIX } from "../subjects/subjects.ts";
import { authorizationBlock, kubernetesSecrets, natsUsers, userEnvironment } from "./nats-authorization.ts";

const USAGE = `usage: pnpm nats-auth --out DIR [--prefix PREFIX] [--kubernetes] (--hosts NAME,NAME... | --hosts-file FILE)
Writes DIR/authorization.conf (include it in nats-server's configuration) and DIR/<user>.env,
the variables of the services of each host (collector and watcher), of the store and of the api.
  --hosts       host names as the collector and watcher report them (CROWSNEST_HOST_NAME;
                in Kubernetes, the node names)
  --hosts-file  one host name per line (# comments allowed)
  --prefix      CROWSNEST_SUBJECT_PREFIX (default ${DEFAULT_SUBJECT_PREFIX})
  --kubernetes  also DIR/nats-credentials.yaml, the Secrets deploy/kubernetes mounts`;

function fail(message: string): never {
  process.stderr.write(`nats-auth: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        out: { type: "string" },
        prefix: { type: "string", default: DEFAULT_SUBJECT_PREFIX },
        hosts: { type: "string" },
        "hosts-file": { type: "string" },
        kubernetes: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
}

const args = parse();
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (args.out === undefined) fail("--out is required");
const listed =
  args["hosts-file"] === undefined
    ? (args.hosts ?? "").split(",")
    : (await readFile(args["hosts-file"], "utf8")).split("\n").map((line) => line.replace(/#.*/, ""));
const hosts = listed.map((host) => host.trim()).filter((host) => host !== "");
if (hosts.length === 0) fail("no hosts given");

let subjects: ReturnType<typeof createSubjects>;
try {
  subjects = createSubjects(args.prefix);
} catch (error) {
  fail((error as Error).message);
}
const users = natsUsers({ subjects, hosts });
let secrets: string | undefined;
try {
  secrets = args.kubernetes ? kubernetesSecrets(users) : undefined;
} catch (error) {
  fail((error as Error).message);
}

await mkdir(args.out, { recursive: true, mode: 0o700 });
// Passwords: readable by the owner only.
const write = async (name: string, text: string) => {
  const path = join(args.out as string, name);
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
};
await write("authorization.conf", authorizationBlock(users));
for (const user of users) await write(`${user.user}.env`, userEnvironment(user));
if (secrets !== undefined) await write("nats-credentials.yaml", secrets);
process.stdout.write(
  `wrote ${join(args.out, "authorization.conf")} and ${users.length} .env files (${hosts.length} hosts, store, api)${secrets === undefined ? "" : ", and nats-credentials.yaml"}\n`,
);
