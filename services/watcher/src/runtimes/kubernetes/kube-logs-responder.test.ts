import { Readable } from "node:stream";
import { codecs, createLogger, type LogsReply } from "@crowsnest/shared";
import { KubeApiError, type RequestOptions } from "@crowsnest/shared/kubernetes";
import { describe, expect, it } from "vitest";
import { podToContainerInfos } from "./kube-container-mapper.ts";
import { createKubeLogsResponder } from "./kube-logs-responder.ts";
import { prunePod } from "./kube-objects.ts";
import type { KnownContainer } from "./kubernetes-watcher.ts";

const logger = createLogger({ service: "test", level: "silent" });
const pod = prunePod({
  metadata: { uid: "u", name: "web-1", namespace: "shop", resourceVersion: "1" },
  spec: { containers: [{ name: "app", image: "app:1" }] },
});
if (pod === undefined) throw new Error("fixture does not prune");
const known: KnownContainer = {
  pod,
  container: "app",
  info: podToContainerInfos(pod)[0] ?? (undefined as never),
};

function harness(answer: (options: RequestOptions) => Promise<string>) {
  const replies: LogsReply[] = [];
  const asked: { path: string; options: RequestOptions }[] = [];
  const responder = createKubeLogsResponder({
    client: {
      async stream(path, options = {}) {
        asked.push({ path, options });
        return Readable.from([Buffer.from(await answer(options))]);
      },
    },
    findContainer: (reference) =>
      reference === "shop/web-1/app" || reference === "web-1/app" ? known : undefined,
    nc: {
      publish(_subject, data) {
        const decoded = codecs.logsReply.decode(data);
        if (decoded.ok) replies.push(decoded.value);
      },
      request: async () => undefined,
      flush: async () => undefined,
    },
    logger,
    requestTimeoutMs: 1000,
    maxConcurrent: 2,
    maxDurationMs: 5000,
    probeIntervalMs: 1000,
    maxPayloadBytes: () => 1024 * 1024,
  });
  const ask = async (request: Record<string, unknown>) => {
    replies.length = 0;
    await responder.handle({
      subject: "logs",
      reply: "inbox",
      data: new TextEncoder().encode(JSON.stringify({ v: 1, ...request })),
    });
    return [...replies];
  };
  return { ask, asked };
}

const lines = (replies: LogsReply[]) => replies.flatMap((reply) => (reply.ok ? reply.lines : []));

describe("Kubernetes logs responder", () => {
  const body = [
    "2026-11-21T10:00:00.100000000Z first",
    "2026-11-21T10:00:01.200000000Z second",
    "2026-11-21T10:00:02.300000000Z third",
    "",
  ].join("\n");

  it("asks the API server for the container's log with timestamps, and tags the lines stdout", async () => {
    const { ask, asked } = harness(async () => body);
    const replies = await ask({ container: "web-1/app", tail: 3, previous: true });
    expect(asked[0]?.path).toBe("/api/v1/namespaces/shop/pods/web-1/log");
    expect(asked[0]?.options.query).toMatchObject({
      container: "app",
      timestamps: true,
      tailLines: 3,
      previous: true,
      follow: false,
    });
    expect(lines(replies)).toEqual([
      { stream: "stdout", ts: null, text: "first" },
      { stream: "stdout", ts: null, text: "second" },
      { stream: "stdout", ts: null, text: "third" },
    ]);
    expect(replies.at(-1)).toMatchObject({ ok: true, done: true });
  });

  it("applies since and until exactly, and gives ts when timestamps are asked for", async () => {
    const { ask, asked } = harness(async () => body);
    const replies = await ask({
      container: "shop/web-1/app",
      timestamps: true,
      since: "2026-11-21T10:00:01.000Z",
      until: "2026-11-21T10:00:02.000Z",
    });
    expect(asked[0]?.options.query).toMatchObject({ sinceTime: "2026-11-21T10:00:01.000Z" });
    expect(lines(replies)).toEqual([{ stream: "stdout", ts: "2026-11-21T10:00:01.200Z", text: "second" }]);
  });

  it("refuses stderr alone, and maps API errors to the protocol's codes", async () => {
    const { ask } = harness(async (options) => {
      if (options.query?.previous === true)
        throw new KubeApiError(
          400,
          "BadRequest",
          'previous terminated container "app" in pod "web-1" not found',
        );
      throw new KubeApiError(404, "NotFound", 'pods "web-1" not found');
    });
    expect(await ask({ container: "web-1/app", stream: "stderr" })).toMatchObject([
      { ok: false, error: { code: "bad_request" } },
    ]);
    expect(await ask({ container: "web-1/app", previous: true })).toMatchObject([
      {
        ok: false,
        error: { code: "bad_request", message: expect.stringContaining("previous terminated container") },
      },
    ]);
    expect(await ask({ container: "web-1/app" })).toMatchObject([
      { ok: false, error: { code: "not_found" } },
    ]);
    expect(await ask({ container: "elsewhere/app" })).toMatchObject([
      { ok: false, error: { code: "not_found" } },
    ]);
  });
});
