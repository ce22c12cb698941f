import { once } from "node:events";
import { Agent, get, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type ApiServer, createApiServer } from "./api-server.ts";

/** A fetch whose answers wait until the test opens the gate; `entered` resolves once one is waiting. */
function gatedFetch() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let entered!: () => void;
  const waiting = new Promise<void>((resolve) => (entered = resolve));
  let finished = 0;
  return {
    fetch: async () => {
      entered();
      await gate;
      finished += 1;
      return new Response("done");
    },
    open,
    waiting,
    finished: () => finished,
  };
}

describe("the api's HTTP server on shutdown", () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let api: ApiServer | undefined;
  afterEach(() => {
    agent.destroy();
    api?.server.closeAllConnections();
  });

  async function start(fetch: () => Promise<Response>): Promise<number> {
    api = createApiServer({ fetch, logger: pino({ level: "silent" }) });
    api.server.listen(0, "127.0.0.1");
    await once(api.server, "listening");
    return (api.server.address() as AddressInfo).port;
  }

  function request(port: number): Promise<IncomingMessage> {
    return new Promise((resolve, reject) =>
      get({ host: "127.0.0.1", port, agent }, resolve).on("error", reject),
    );
  }

  it("tells a keep-alive client in flight to close, so the server stops without waiting for the force", async () => {
    const gated = gatedFetch();
    const port = await start(gated.fetch);
    const answer = request(port);
    await gated.waiting;
    const stopped = api?.shutdown(600_000);
    gated.open();
    const response = await answer;
    response.resume();
    expect(response.headers.connection).toBe("close");
    await stopped;
    expect(api?.server.listening).toBe(false);
  });

  it("resolves only once a handler whose connection was cut has returned", async () => {
    const gated = gatedFetch();
    const port = await start(gated.fetch);
    const answer = request(port).catch((error: unknown) => error);
    await gated.waiting;
    let settled = false;
    const stopped = api?.shutdown(0).then(() => (settled = true));
    // The force closed the connection and the server is closed; the handler still runs.
    expect(await answer).toMatchObject({ code: "ECONNRESET" });
    if (api?.server.listening) await once(api.server, "close");
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(gated.finished()).toBe(0);
    gated.open();
    await stopped;
    expect(gated.finished()).toBe(1);
  });
});
