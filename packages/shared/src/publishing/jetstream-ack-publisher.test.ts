import { headers, type Msg, type MsgHdrs, MsgHdrsImpl } from "@nats-io/transport-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { captureLogger } from "../../../../test/support/capture-logger.ts";
import {
  type AckConnection,
  type AckDeadlineClock,
  AckTimeoutError,
  DisconnectedError,
  InvalidAckError,
  InvalidMsgIdError,
  JetStreamAckPublisher,
  MsgIdHeader,
  MsgIdStart,
  NoStreamError,
  parseAck,
  StreamRefusedError,
  systemDeadlineClock,
} from "./jetstream-ack-publisher.ts";
import { PublishQueue } from "./publish-queue.ts";

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

  it("reads JetStream's usual PubAck from its bytes as JSON.parse reads it, and leaves every other reply to JSON.parse", () => {
    const texts = [
      '{"stream":"ACME_TELEMETRY", "seq":42}',
      '{"stream":"ACME_TELEMETRY", "seq":43,"duplicate": true}',
      '{"stream":"ACME_TELEMETRY",  "seq":43}',
      '{"stream":"ACME_TELEMETRY", "seq":43,"duplicate":  true}',
      '{"stream":"ACME_TELEMETRY", "seq":43, "duplicate": true}',
      '{"stream":"ACME_TELEMETRY", "domain":"hub", "seq":44}',
      '{"stream":"ACME_TELEMETRY","seq":42}',
      '{"stream":"ACME_TELEMETRY","seq":43,"duplicate":true}',
      '{"stream":"ACME_TELEMETRY","seq":0}',
      '{"stream":"OTHER","seq":9007199254740991}',
      '{"stream":"OTHER","seq":123456789012345}',
      '{"stream":"OTHER","seq":1234567890123456}',
      '{"stream":"ACME_TELEMETRY","seq":42,"duplicate":false}',
      '{"stream":"ACME_TELEMETRY","seq":42,"domain":"hub"}',
      '{"stream":"ACME_TELEMETRY","seq":007}',
      '{"stream":"ACME_TELEMETRY","seq":-1}',
      '{"stream":"ACME_TELEMETRY","seq":1.5}',
      '{"stream":"A\\"B","seq":1}',
      '{"stream":"A\\u0042","seq":1}',
      '{"stream":"strömung","seq":1}',
      '{"stream":"","seq":1}',
      '{"stream":"S","seq":}',
      '{"stream":"S","seq":1',
      '{"stream":"S","seq":1}}',
      '{"stream":"S"}',
      '{"stream":"S","seq":1,"duplicate":true',
    ];
    for (const text of texts) {
      const bytes = new TextEncoder().encode(text);
      // A leading space is still the same JSON, but not JetStream's usual bytes: the general way.
      const general = parseAck(reply(new TextEncoder().encode(` ${text}`)));
      const read = parseAck(reply(bytes));
      if (general instanceof Error) {
        expect(read, text).toBeInstanceOf(general.constructor);
        expect((read as Error).message, text).toBe(general.message);
      } else {
        expect(read, text).toEqual(general);
      }
    }
  });

  it("refuses anything else as not a PubAck", () => {
    for (const odd of [encode("ok"), encode({ seq: 1 }), new TextEncoder().encode("{"), new Uint8Array()]) {
      const error = parseAck(reply(odd));
      expect(error).toBeInstanceOf(InvalidAckError);
      expect(error).toMatchObject({ retryable: false });
    }
  });
});

/** The bytes the NATS client sends for a headers object (it calls encode(), not in MsgHdrs' type), decoded by the client. */
function encodedHeaders(sent: MsgHdrs): MsgHdrs {
  return MsgHdrsImpl.decode((sent as unknown as { encode(): Uint8Array }).encode());
}

describe("MsgIdHeader", () => {
  it("encodes the bytes the client encodes for a headers object holding the message id", () => {
    for (const msgID of ["h/docker/abc/2026-12-05T23:00:00.000Z", "  spaced  ", "hôte/ns/pod/c/ts", "x"]) {
      const client = headers();
      client.append("Nats-Msg-Id", msgID);
      const ours = new MsgIdHeader(msgID).encode();
      expect(Buffer.from(ours).toString("utf8")).toBe(
        Buffer.from((client as unknown as { encode(): Uint8Array }).encode()).toString("utf8"),
      );
      expect(encodedHeaders(new MsgIdHeader(msgID) as unknown as MsgHdrs).get("Nats-Msg-Id")).toBe(
        msgID.trim(),
      );
    }
  });

  it("is what MsgIdStart encodes for a start and an end, or MsgIdStart leaves the id to it", () => {
    const starts = ["h/docker/abc/", "  spaced ", "hôte/ns/pod/c/", "", " ", "line\nbreak/", "x"];
    const ends = ["2026-12-05T23:00:00.000Z", "tail ", " lead", "", "  ", "ü", "a\rb", "x"];
    let encoded = 0;
    for (const start of starts) {
      const ids = new MsgIdStart(start);
      for (const end of ends) {
        const id = ids.with(end);
        expect(String(id)).toBe(start + end);
        if (typeof id === "string") continue;
        encoded++;
        expect(Buffer.from(id.encode()).equals(Buffer.from(new MsgIdHeader(start + end).encode()))).toBe(
          true,
        );
      }
    }
    // Every start without a line break, with every end that has nothing to trim or refuse.
    expect(encoded).toBe(6 * 3);
  });

  it("refuses a message id with a line break, as the client does, and the publish fails for good", async () => {
    expect(() => headers().append("Nats-Msg-Id", "a\r\nb")).toThrow();
    expect(() => new MsgIdHeader("a\nb")).toThrow(InvalidMsgIdError);
    const { nc, published } = fakeConnection();
    const publisher = new JetStreamAckPublisher({ nc });
    const failed = await publisher
      .publish("s", new Uint8Array(), { msgID: "a\rb" })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(InvalidMsgIdError);
    expect((failed as InvalidMsgIdError).retryable).toBe(false);
    expect(published).toEqual([]);
    publisher.close();
  });
});

/** A connection whose status events and acknowledgements the test sends, and whose publishes it sees. */
function fakeConnection() {
  const published: { subject: string; reply: string | undefined; msgID: string | undefined }[] = [];
  let pushStatus: ((status: { type: string }) => void) | undefined;
  let onReply: ((error: Error | null, msg: Msg) => void) | undefined;
  const statuses: { type: string }[] = [];
  const nc = {
    publish(subject: string, _payload: Uint8Array, options?: { reply?: string; headers?: MsgHdrs }) {
      // Read back as the server's side would: from the bytes the client sends.
      const sent = options?.headers === undefined ? undefined : encodedHeaders(options.headers);
      published.push({ subject, reply: options?.reply, msgID: sent?.get("Nats-Msg-Id") });
    },
    subscribe(_subject: string, options: { callback: (error: Error | null, msg: Msg) => void }) {
      onReply = options.callback;
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
    /** The stream's acknowledgement of the publish that named `reply`. */
    acknowledge(reply: string | undefined, seq: number) {
      // Only subject, data and headers are read; a whole Msg would be noise.
      const msg = { subject: reply ?? "", data: encode({ stream: "S", seq }), headers: undefined };
      onReply?.(null, msg as unknown as Msg);
    },
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

describe("JetStreamAckPublisher.send, the publish queue's callback path", () => {
  it("reports the acknowledgement once, and a publish refused at once only after send() returned", async () => {
    const connection = fakeConnection();
    const publisher = new JetStreamAckPublisher({ nc: connection.nc });
    const outcomes: string[] = [];
    publisher.send("s", new Uint8Array(), { msgID: "a" }, (error, ack) => {
      outcomes.push(error === undefined ? `stored ${ack?.seq}` : error.name);
    });
    connection.acknowledge(connection.published[0]?.reply, 7);
    connection.acknowledge(connection.published[0]?.reply, 7);
    expect(outcomes).toEqual(["stored 7"]);
    expect(publisher.pending).toBe(0);

    connection.emit("disconnect");
    await new Promise((resolve) => setTimeout(resolve, 0));
    // The queue sends from a loop; a failure reported inside send() would be retried inside it.
    publisher.send("s", new Uint8Array(), { msgID: "b" }, (error) => outcomes.push(error?.name ?? "stored"));
    publisher.send("s", new Uint8Array(), { msgID: "c\n" }, (error) =>
      outcomes.push(error?.name ?? "stored"),
    );
    expect(outcomes).toEqual(["stored 7"]);
    await Promise.resolve();
    expect(outcomes).toEqual(["stored 7", "DisconnectedError", "DisconnectedError"]);
    expect(connection.published).toHaveLength(1);
    publisher.close();
  });
});

/** Deadline timers that fire only when the test moves time on: "in time" is then exact under any load. */
class ManualDeadlineClock implements AckDeadlineClock {
  #nowMs = 1_000_000;
  readonly #timers = new Set<{ run: () => void; dueAtMs: number }>();

  now(): number {
    return this.#nowMs;
  }

  setTimeout(run: () => void, delayMs: number): unknown {
    const timer = { run, dueAtMs: this.#nowMs + delayMs };
    this.#timers.add(timer);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.#timers.delete(timer as { run: () => void; dueAtMs: number });
  }

  /** Timers armed and not yet fired or cleared. */
  get armed(): number {
    return this.#timers.size;
  }

  /** Moves time on, firing every timer due on the way, earliest first. */
  advance(ms: number): void {
    const endMs = this.#nowMs + ms;
    for (;;) {
      const due = [...this.#timers]
        .filter((timer) => timer.dueAtMs <= endMs)
        .sort((a, b) => a.dueAtMs - b.dueAtMs)[0];
      if (due === undefined) break;
      this.#timers.delete(due);
      this.#nowMs = due.dueAtMs;
      due.run();
    }
    this.#nowMs = endMs;
  }
}

const settledState = async (promise: Promise<unknown>) => {
  const marker = Symbol("pending");
  // Lets the rejection or resolution that the last timer caused run first.
  await new Promise((resolve) => setImmediate(resolve));
  return Promise.race([
    promise.then(
      () => "resolved",
      () => "rejected",
    ),
    Promise.resolve(marker),
  ]).then((state) => (state === marker ? "pending" : state));
};

describe("JetStreamAckPublisher acknowledgement deadlines", () => {
  it("fails a publish whose acknowledgement never comes exactly at its timeout, not before", async () => {
    const clock = new ManualDeadlineClock();
    const publisher = new JetStreamAckPublisher({ nc: fakeConnection().nc, clock });
    const unanswered = publisher.publish("s", new Uint8Array(), { msgID: "a", timeout: 5000 });
    unanswered.catch(() => undefined);
    clock.advance(4999);
    expect(await settledState(unanswered)).toBe("pending");
    clock.advance(1);
    await expect(unanswered).rejects.toBeInstanceOf(AckTimeoutError);
    expect(publisher.pending).toBe(0);
    expect(clock.armed).toBe(0);
    publisher.close();
  });

  it("keeps no timer while nothing awaits an acknowledgement, and one while publishes do", async () => {
    const clock = new ManualDeadlineClock();
    const connection = fakeConnection();
    const publisher = new JetStreamAckPublisher({ nc: connection.nc, clock });
    expect(clock.armed).toBe(0);
    const sent = ["a", "b", "c"].map((msgID) => publisher.publish("s", new Uint8Array(), { msgID }));
    expect(clock.armed).toBe(1);
    for (const [index, { reply }] of connection.published.entries()) connection.acknowledge(reply, index + 1);
    await expect(Promise.all(sent)).resolves.toHaveLength(3);
    expect(clock.armed).toBe(0);
    publisher.close();
  });

  it("fails each publish at its own deadline when timeouts differ, the shorter first", async () => {
    const clock = new ManualDeadlineClock();
    const publisher = new JetStreamAckPublisher({ nc: fakeConnection().nc, clock });
    const long = publisher.publish("s", new Uint8Array(), { msgID: "long", timeout: 5000 });
    const short = publisher.publish("s", new Uint8Array(), { msgID: "short", timeout: 2000 });
    long.catch(() => undefined);
    short.catch(() => undefined);
    clock.advance(2000);
    await expect(short).rejects.toBeInstanceOf(AckTimeoutError);
    expect(await settledState(long)).toBe("pending");
    clock.advance(3000);
    await expect(long).rejects.toBeInstanceOf(AckTimeoutError);
    publisher.close();
  });

  it("still times out a publish sent after an earlier one was acknowledged", async () => {
    const clock = new ManualDeadlineClock();
    const connection = fakeConnection();
    const publisher = new JetStreamAckPublisher({ nc: connection.nc, clock });
    const first = publisher.publish("s", new Uint8Array(), { msgID: "a", timeout: 5000 });
    clock.advance(1000);
    const second = publisher.publish("s", new Uint8Array(), { msgID: "b", timeout: 5000 });
    second.catch(() => undefined);
    connection.acknowledge(connection.published[0]?.reply, 1);
    await expect(first).resolves.toMatchObject({ seq: 1 });
    clock.advance(4999);
    expect(await settledState(second)).toBe("pending");
    clock.advance(1);
    await expect(second).rejects.toBeInstanceOf(AckTimeoutError);
    publisher.close();
  });

  it("behind the publish queue, a sample whose acknowledgement never comes is sent again after its timeout", async () => {
    const clock = new ManualDeadlineClock();
    const connection = fakeConnection();
    const publisher = new JetStreamAckPublisher({ nc: connection.nc, clock });
    const queue = new PublishQueue({
      js: publisher,
      logger: captureLogger().logger,
      maxBuffered: 10,
      maxInFlight: 10,
      ackTimeoutMs: 5000,
      retryDelayMs: 1,
    });
    queue.enqueue({ subject: "s", payload: new Uint8Array(), msgID: "sample-1" });
    expect(connection.published.map((p) => p.msgID)).toEqual(["sample-1"]);
    clock.advance(5000);
    // The retry goes out after the queue's (real, 1 ms) retry delay: wait for it, not for a set time.
    await expect
      .poll(() => connection.published.map((p) => p.msgID), { timeout: 5000 })
      .toEqual(["sample-1", "sample-1"]);
    connection.acknowledge(connection.published[1]?.reply, 1);
    await expect.poll(() => queue.counts().published, { timeout: 5000 }).toBe(1);
    await queue.stop(1000);
    publisher.close();
  });
});

describe("the system deadline clock", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  /** Node timers armed from here on, by their delay (fake ones: time moves only when the test says). */
  function nodeTimerDelays(): number[] {
    vi.useFakeTimers();
    const delays: number[] = [];
    const fake = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((run: () => void, delayMs?: number) => {
      delays.push(delayMs ?? 0);
      return fake(run, delayMs);
    }) as typeof setTimeout);
    return delays;
  }

  it("runs a deadline at its delay, not once cleared, and never keeps the process alive by it", () => {
    nodeTimerDelays();
    const clock = systemDeadlineClock();
    const run = vi.fn();
    const armed = clock.setTimeout(run, 5000) as { timer: NodeJS.Timeout };
    expect(armed.timer.hasRef()).toBe(false);
    vi.advanceTimersByTime(4999);
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(1);

    const cleared = vi.fn();
    clock.clearTimeout(clock.setTimeout(cleared, 5000));
    vi.advanceTimersByTime(10_000);
    expect(cleared).not.toHaveBeenCalled();
  });

  it("after clearing a deadline armed longer after the previous one than its delay, sets a 1 ms timer (libuv's wake-up set anew); after one armed sooner, none", () => {
    const delays = nodeTimerDelays();
    const clock = systemDeadlineClock();
    clock.clearTimeout(clock.setTimeout(() => undefined, 5000));
    expect(delays).toEqual([5000, 1]);

    vi.advanceTimersByTime(1000);
    clock.clearTimeout(clock.setTimeout(() => undefined, 5000));
    expect(delays).toEqual([5000, 1, 5000]);

    vi.advanceTimersByTime(10_000);
    clock.clearTimeout(clock.setTimeout(() => undefined, 5000));
    expect(delays).toEqual([5000, 1, 5000, 5000, 1]);
  });
});
