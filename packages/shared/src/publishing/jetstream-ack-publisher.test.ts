import type { MsgHdrs } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import {
  type AckConnection,
  DisconnectedError,
  InvalidAckError,
  JetStreamAckPublisher,
  NoStreamError,
  parseAck,
  StreamRefusedError,
} from "./jetstream-ack-publisher.ts";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const reply = (data: Uint8Array, code?: number) => ({
  data,
  // Only `code` is read; a whole MsgHdrs would be noise.
  headers: code === undefined ? undefined : ({ code } as unknown as MsgHdrs),
});

describe("parseAck", () => {
  it("reads a PubAck, and a duplicate's", () => {
    expect(parseAck(reply(encode({ stream: "ACME_TELEMETRY", seq: 42 })))).toEqual({
      stream: "ACME_TELEMETRY",
      seq: 42,
      duplicate: false,
    });
    expect(parseAck(reply(encode({ stream: "S", seq: 7, duplicate: true })))).toMatchObject({
      duplicate: true,
    });
  });

  it("turns the server's 503 into 'no stream', retryable", () => {
    const error = parseAck(reply(new Uint8Array(), 503));
    expect(error).toBeInstanceOf(NoStreamError);
    expect(error).toMatchObject({ retryable: true });
  });

  it("turns a stream's refusal into an API error carrying its codes", () => {
    const error = parseAck(
      reply(
        encode({
          error: { code: 400, err_code: 10054, description: "message size exceeds maximum allowed" },
        }),
      ),
    );
    expect(error).toBeInstanceOf(StreamRefusedError);
    expect(error).toMatchObject({ retryable: false, status: 400, code: 10054 });
    expect((error as Error).message).toContain("message size");
  });

  it("refuses anything else as not a PubAck", () => {
    for (const odd of [encode("ok"), encode({ seq: 1 }), new TextEncoder().encode("{"), new Uint8Array()]) {
      const error = parseAck(reply(odd));
      expect(error).toBeInstanceOf(InvalidAckError);
      expect(error).toMatchObject({ retryable: false });
    }
  });
});

/** A connection whose status events the test sends, and whose publishes it sees. */
function fakeConnection() {
  const published: { subject: string; reply: string | undefined }[] = [];
  let pushStatus: ((status: { type: string }) => void) | undefined;
  const statuses: { type: string }[] = [];
  const nc = {
    publish(subject: string, _payload: Uint8Array, options?: { reply?: string }) {
      published.push({ subject, reply: options?.reply });
    },
    subscribe() {
      return { unsubscribe() {} };
    },
    status() {
      return {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const next =
              statuses.shift() ?? (await new Promise<{ type: string }>((resolve) => (pushStatus = resolve)));
            yield next;
          }
        },
      };
    },
  };
  return {
    // Only publish, subscribe and status are used; the rest of a NatsConnection would be noise.
    nc: nc as unknown as AckConnection,
    published,
    emit(type: string) {
      if (pushStatus) {
        const push = pushStatus;
        pushStatus = undefined;
        push({ type });
      } else {
        statuses.push({ type });
      }
    },
  };
}

describe("JetStreamAckPublisher when the connection drops", () => {
  it("fails outstanding publishes at once, fails new ones while down, and sends again after the reconnect", async () => {
    const connection = fakeConnection();
    const publisher = new JetStreamAckPublisher({ nc: connection.nc });
    const outstanding = publisher.publish("s", new Uint8Array(), { msgID: "a", timeout: 60_000 });
    connection.emit("disconnect");
    await expect(outstanding).rejects.toBeInstanceOf(DisconnectedError);
    await expect(publisher.publish("s", new Uint8Array(), { msgID: "b" })).rejects.toBeInstanceOf(
      DisconnectedError,
    );
    expect(connection.published).toHaveLength(1);
    connection.emit("reconnect");
    await new Promise((resolve) => setTimeout(resolve, 0));
    void publisher.publish("s", new Uint8Array(), { msgID: "c" }).catch(() => undefined);
    expect(connection.published).toHaveLength(2);
    publisher.close();
  });
});
