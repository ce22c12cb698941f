// The client's API negotiation against a CRI server of the test's own (grpc-js on a Unix socket)
// that serves only `runtime.v1alpha2`, as runtimes older than Kubernetes 1.23 do: the client falls
// back to it, and its calls then use that package. A socket nothing answers on is named in the
// discovery error.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { criTypes } from "./cri-api.ts";
import { CriClient } from "./cri-client.ts";
import { CriSocketNotFoundError, openCriClient } from "./cri-socket.ts";

const type = (name: string) => criTypes.lookupType(`runtime.v1alpha2.${name}`);

function method(requestType: string, responseType: string): grpc.MethodDefinition<object, object> {
  const request = type(requestType);
  const response = type(responseType);
  return {
    path: "",
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: object) => Buffer.from(request.encode(request.fromObject(value)).finish()),
    requestDeserialize: (bytes: Buffer) => request.toObject(request.decode(bytes)),
    responseSerialize: (value: object) => Buffer.from(response.encode(response.fromObject(value)).finish()),
    responseDeserialize: (bytes: Buffer) => response.toObject(response.decode(bytes)),
  };
}

describe("CriClient's API negotiation", () => {
  let directory: string;
  let socket: string;
  const server = new grpc.Server();

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "crowsnest-cri-v1alpha2-"));
    socket = join(directory, "cri.sock");
    server.addService(
      {
        Version: {
          ...method("VersionRequest", "VersionResponse"),
          path: "/runtime.v1alpha2.RuntimeService/Version",
        },
        ListContainers: {
          ...method("ListContainersRequest", "ListContainersResponse"),
          path: "/runtime.v1alpha2.RuntimeService/ListContainers",
        },
      },
      {
        Version: (_call: unknown, callback: grpc.sendUnaryData<object>) =>
          callback(null, {
            version: "0.1.0",
            runtime_name: "old-runtime",
            runtime_version: "1.5.0",
            runtime_api_version: "v1alpha2",
          }),
        ListContainers: (_call: unknown, callback: grpc.sendUnaryData<object>) =>
          callback(null, {
            containers: [
              {
                id: "c0",
                pod_sandbox_id: "s0",
                metadata: { name: "app", attempt: 2 },
                state: 1,
                created_at: "1764000000123456789",
              },
            ],
          }),
      },
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) =>
        error === null ? resolve() : reject(error),
      ),
    );
  });

  afterAll(async () => {
    server.forceShutdown();
    await rm(directory, { recursive: true, force: true });
  });

  it("falls back to runtime.v1alpha2 when v1 is unimplemented, and speaks it from then on", async () => {
    const client = new CriClient(socket);
    try {
      const runtime = await client.negotiate(AbortSignal.timeout(10_000));
      expect(client.apiVersion).toBe("v1alpha2");
      expect(runtime).toEqual({
        runtimeName: "old-runtime",
        runtimeVersion: "1.5.0",
        runtimeApiVersion: "v1alpha2",
      });
      const [container] = await client.containers(AbortSignal.timeout(10_000));
      // Nanoseconds exact, past what a double holds.
      expect(container).toMatchObject({
        id: "c0",
        name: "app",
        attempt: 2,
        state: "running",
        createdAtNano: 1_764_000_000_123_456_789n,
      });
    } finally {
      client.close();
    }
  });

  it("uses a configured socket as it is, and names every default socket it tried when none answers", async () => {
    const configured = await openCriClient(socket, 2000);
    expect(configured.socketPath).toBe(socket);
    configured.close();
    // The defaults may answer on a CRI node; here, on a machine without them, none does.
    const found = await openCriClient(undefined, 2000).then(
      (client) => {
        client.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    if (found !== undefined) {
      expect(found).toBeInstanceOf(CriSocketNotFoundError);
      expect((found as Error).message).toMatch(
        /\/run\/containerd\/containerd\.sock \(.+\), \/run\/crio\/crio\.sock \(.+\)/,
      );
      expect((found as Error).message).toContain("CROWSNEST_CRI_SOCKET");
    }
  });
});
