// crowsnest-bus: watch the bus from a terminal with nothing to install and no image to pull.
// It is in the Crowsnest image (`docker compose exec api crowsnest-bus`) and in a checkout
// (`pnpm watch-bus`), finds NATS as the services do (CROWSNEST_NATS_URL, CROWSNEST_SUBJECT_PREFIX,
// the token, user or credentials file, TLS),
// and prints one line per message (bus-line.ts), or the payload as published with --json.
import { parseArgs } from "node:util";
import { ConfigError, createSubjects, natsTlsOptions } from "@crowsnest/shared";
import { connect } from "@nats-io/transport-node";
import { readBusWatchConfig } from "../config.ts";
import { formatBusMessage } from "./bus-line.ts";

const USAGE = `usage: crowsnest-bus [--json] [--count N] [--server URL] [SUBJECT ...]
Prints each message on the SUBJECTs (default <prefix>.v1.>, everything) as one line, until Ctrl-C.
  --json        the subject, then the payload as published
  --count N     stop after N messages
  --server URL  NATS server (default CROWSNEST_NATS_URL, as the services have it)
Subjects are NATS wildcards, e.g. 'crowsnest.v1.events.>' or 'crowsnest.v1.stats.*.docker.web'.`;

function fail(message: string, code: number): never {
  process.stderr.write(`crowsnest-bus: ${message}\n`);
  process.exit(code);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      count: { type: "string" },
      server: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}
try {
  args = parse();
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`, 2);
}
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const count = args.values.count === undefined ? undefined : Number(args.values.count);
if (count !== undefined && !(Number.isSafeInteger(count) && count > 0))
  fail(`--count must be a positive integer, not ${JSON.stringify(args.values.count)}`, 2);

let config: ReturnType<typeof readBusWatchConfig>;
try {
  config = readBusWatchConfig();
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 2);
  throw error;
}
const root = createSubjects(config.subjectPrefix).root;
const subjects = args.positionals.length > 0 ? args.positionals : [`${root}.>`];
const servers = args.values.server === undefined ? [...config.natsServers] : [args.values.server];

// `crowsnest-bus | head` closes stdout early: that is the end, not an error.
process.stdout.on("error", () => process.exit(0));

const nc = await connect({
  servers,
  name: "crowsnest-bus",
  ...(config.natsToken === undefined ? {} : { token: config.natsToken }),
  ...(config.natsUser === undefined ? {} : { user: config.natsUser.user, pass: config.natsUser.password }),
  inboxPrefix: config.natsInboxPrefix,
  ...(config.natsTls === undefined ? {} : { tls: natsTlsOptions(config.natsTls) }),
  // Once connected, ride out a NATS restart as the services do.
  maxReconnectAttempts: -1,
}).catch((error: unknown) =>
  fail(`cannot reach NATS at ${servers.join(", ")}: ${(error as Error).message}`, 1),
);

let seen = 0;
const done = () => void nc.drain().catch(() => undefined);
for (const subject of subjects) {
  let subscription: ReturnType<typeof nc.subscribe>;
  try {
    subscription = nc.subscribe(subject);
  } catch (error) {
    fail(`cannot subscribe to ${JSON.stringify(subject)}: ${(error as Error).message}`, 2);
  }
  void (async () => {
    for await (const message of subscription) {
      if (count !== undefined && seen >= count) break;
      seen++;
      const text = args.values.json
        ? `${message.subject} ${new TextDecoder().decode(message.data)}`
        : formatBusMessage(message.subject, message.data, root, Date.now());
      process.stdout.write(`${text}\n`);
      if (seen === count) done();
    }
  })();
}
await nc.flush().catch((error: unknown) => fail(`subscribing failed: ${(error as Error).message}`, 1));
// On stderr, so stdout holds only messages: from here on nothing published is missed.
process.stderr.write(`crowsnest-bus: watching ${subjects.join(" ")} on ${nc.getServer()}\n`);

process.once("SIGINT", done);
process.once("SIGTERM", done);
await nc.closed();
