// A plain NATS subscriber, as a user's own program would be, for the compose smoke test: it
// subscribes to subjects of the compose stack's NATS and prints one line per message,
// `<subject> <payload>`, until SIGTERM or SIGINT. Its first line, `subscribed`, means the
// server has the subscriptions, so nothing published after it is missed.
//   node test/compose/bus-subscriber.ts nats://127.0.0.1:4222 'crowsnest.v1.stats.>' ...
// CROWSNEST_SMOKE_NATS_USER and CROWSNEST_SMOKE_NATS_PASSWORD: the NATS user to subscribe as.
import { connect } from "@nats-io/transport-node";

const [url, ...subjects] = process.argv.slice(2);
if (url === undefined || subjects.length === 0) {
  console.error("usage: bus-subscriber.ts <nats url> <subject>...");
  process.exit(2);
}

// A NATS user, when the stack's NATS has users (the compose file's nats-auth step makes them).
const user = process.env.CROWSNEST_SMOKE_NATS_USER;
const pass = process.env.CROWSNEST_SMOKE_NATS_PASSWORD;
const nc = await connect({
  servers: url,
  maxReconnectAttempts: -1,
  name: "crowsnest-compose-smoke",
  ...(user ? { user, pass: pass ?? "" } : {}),
});
const decoder = new TextDecoder();
for (const subject of subjects) {
  const subscription = nc.subscribe(subject);
  void (async () => {
    for await (const message of subscription) {
      process.stdout.write(`${message.subject} ${decoder.decode(message.data)}\n`);
    }
  })();
}
await nc.flush();
console.log("subscribed");

const stop = () => void nc.drain();
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
await nc.closed();
