// Asks a watcher for logs over its RPC subject the way the api does, and collects every reply
// until the last chunk (or an error reply), within a bound.
import { codecs, type LogsReply } from "@crowsnest/shared";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";

export async function requestLogsOverBus(
  nc: NatsConnection,
  subject: string,
  payload: Record<string, unknown>,
  options: { timeoutMs: number; onReply?: (reply: LogsReply) => void },
): Promise<LogsReply[]> {
  const inbox = createInbox();
  const subscription = nc.subscribe(inbox);
  const replies: LogsReply[] = [];
  const done = (async () => {
    for await (const message of subscription) {
      const decoded = codecs.logsReply.decode(message.data);
      if (!decoded.ok) throw new Error(decoded.detail);
      replies.push(decoded.value);
      options.onReply?.(decoded.value);
      if (!decoded.value.ok || decoded.value.done) break;
    }
  })();
  nc.publish(subject, JSON.stringify({ v: 1, ...payload }), { reply: inbox });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    done,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no complete log answer in ${options.timeoutMs / 1000} s`)),
        options.timeoutMs,
      );
    }),
  ]).finally(() => {
    clearTimeout(timer);
    subscription.unsubscribe();
  });
  return replies;
}

/** The text of every line the replies carried, in order. */
export const logTexts = (replies: LogsReply[]): string[] =>
  replies.flatMap((reply) => (reply.ok ? reply.lines.map((line) => line.text) : []));
