// A durable JetStream consumer of Crowsnest's lifecycle events: it prints every event once,
// including those published while it was not running, because the server remembers how far the
// named consumer got (up to the stream's max age, 7 days by default).
//
//   node consumer.mts                      follow, until Ctrl-C
//   node consumer.mts --until-caught-up    print what it missed, then exit
//
// Environment: NATS_URL (default nats://127.0.0.1:4222), CROWSNEST_SUBJECT_PREFIX (default
// crowsnest), CONSUMER_NAME (default my-app: one name per application; instances sharing a
// name share the work). Needs Node 22.18+ (or 23.6+) and `npm install @nats-io/transport-node
// @nats-io/jetstream`. The payload is the `event` message of the bus contract
// (contract/schemas/event.json); fields it does not know are ignored, as v1 requires.
import { AckPolicy, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

interface Event {
  ts: string;
  host: string;
  kind: string;
  action: string;
  actor: { name: string };
  exit_code: number | null;
}

const prefix = process.env.CROWSNEST_SUBJECT_PREFIX || "crowsnest";
const durableName = process.env.CONSUMER_NAME || "my-app";
// The stream's name derives from the prefix: `crowsnest` → CROWSNEST_EVENTS.
const stream = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_").toUpperCase()}_EVENTS`;
const untilCaughtUp = process.argv.includes("--until-caught-up");

const nc = await connect({ servers: process.env.NATS_URL || "nats://127.0.0.1:4222" });
// Adding a consumer that exists with the same settings is a no-op, so every start may do it.
await (await jetstreamManager(nc)).consumers.add(stream, {
  durable_name: durableName,
  filter_subject: `${prefix}.v1.events.>`,
  deliver_policy: DeliverPolicy.All,
  ack_policy: AckPolicy.Explicit,
});
const consumer = await jetstream(nc).consumers.get(stream, durableName);

function print(message: JsMsg): void {
  try {
    const event = message.json<Event>();
    const exit = event.exit_code === null ? "" : ` exit_code=${event.exit_code}`;
    console.log(`${event.ts} ${event.host} ${event.kind} ${event.actor.name} ${event.action}${exit}`);
  } catch (error) {
    console.error(`skipping a message on ${message.subject} that is not JSON: ${(error as Error).message}`);
  }
  // Acknowledged once handled: after a crash, the server redelivers what was not.
  message.ack();
}

if (untilCaughtUp) {
  // Fetch in batches until the server says nothing is left for this consumer.
  while ((await consumer.info()).num_pending > 0) {
    for await (const message of await consumer.fetch({ max_messages: 100, expires: 2000 })) {
      print(message);
    }
  }
  await nc.drain();
} else {
  const messages = await consumer.consume();
  const stop = () => void messages.close().then(() => nc.drain());
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  for await (const message of messages) print(message);
}
