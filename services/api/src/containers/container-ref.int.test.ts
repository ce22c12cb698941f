// Container references as a user has them — `docker ps`'s short id, the full id, the name, a
// Kubernetes namespace/pod/container — on every route that takes a container, against what the
// real store wrote from messages on the real bus.
import type { InventoryMessage } from "@crowsnest/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_TOKEN } from "../../../../test/support/api-app.ts";
import {
  eventFixture,
  inventoryContainerFixture,
  publishEvent,
  publishInventory,
  publishStats,
  statsFixture,
} from "../../../../test/support/bus-fixtures.ts";
import { type StoreBackedApi, startStoreBackedApi } from "../../../../test/support/store-backed-api.ts";
import { testTime } from "../../../../test/support/test-clock.ts";
import { eventually } from "../../../../test/support/test-env.ts";

const hex = (head: string, fill: string) => (head + fill.repeat(64)).slice(0, 64);
const WEB_1 = { host: "node-1", external_id: hex("4f1c9b0e2a7d", "1"), name: "web" };
const WEB_2 = { host: "node-2", external_id: hex("9e8d7c6b5a49", "2"), name: "web" };
// Two ids `docker ps` would both show as 0123456789ab.
const TWIN_A = { host: "node-1", external_id: hex("0123456789aba", "3"), name: "twin-a" };
const TWIN_B = { host: "node-1", external_id: hex("0123456789abb", "4"), name: "twin-b" };
// A recreated container: the removed one and the one there now share the name.
const OLD_API = { host: "node-1", external_id: hex("aaaa", "5"), name: "api" };
const NEW_API = { host: "node-1", external_id: hex("bbbb", "6"), name: "api" };
// Two removed containers of one name, and nothing of that name now.
const BATCH_1 = { host: "node-1", external_id: hex("cccc", "7"), name: "batch" };
const BATCH_2 = { host: "node-1", external_id: hex("dddd", "8"), name: "batch" };
const DIGITS = { host: "node-1", external_id: hex("eeee", "9"), name: "2024" };
const POD = { host: "k8s-1", external_id: "shop/web-7d4b9c-x2x/app", name: "shop/web-7d4b9c-x2x/app" };
const ALL = [WEB_1, WEB_2, TWIN_A, TWIN_B, OLD_API, NEW_API, BATCH_1, BATCH_2, DIGITS, POD];
const REMOVED = [OLD_API, BATCH_1, BATCH_2];

interface ErrorBody {
  error: { code: string; message: string; candidates?: Record<string, unknown>[] };
}

describe("container references", () => {
  let api: StoreBackedApi;
  const ids = new Map<string, number>();
  const idOf = (container: { external_id: string }) => ids.get(container.external_id) as number;
  const get = <T = Record<string, unknown>>(path: string) => api.call<T>("GET", `/api/v1${path}`);

  beforeAll(async () => {
    api = await startStoreBackedApi();
    const inventory = (host: string, runtime: "docker" | "kubernetes", containers: typeof ALL) =>
      publishInventory(api.js, api.subjects, {
        v: 1,
        host,
        runtime,
        ts: testTime("09:00:00.000"),
        reason: "startup",
        snapshot_id: `${host}-1`,
        part: 1,
        parts: 1,
        containers: containers.map((c) =>
          inventoryContainerFixture({ external_id: c.external_id, name: c.name }),
        ),
      } satisfies InventoryMessage);
    await inventory("node-1", "docker", [WEB_1, TWIN_A, TWIN_B, OLD_API, NEW_API, BATCH_1, BATCH_2, DIGITS]);
    await inventory("node-2", "docker", [WEB_2]);
    await inventory("k8s-1", "kubernetes", [POD]);
    for (const removed of REMOVED) {
      await publishEvent(
        api.js,
        api.subjects,
        eventFixture({
          host: removed.host,
          actor: { external_id: removed.external_id, name: removed.name },
          action: "destroy",
          ts: testTime("09:05:00.000"),
          event_id: `${removed.external_id}/destroy`,
        }),
      );
    }
    await publishStats(
      api.js,
      api.subjects,
      statsFixture({
        host: WEB_1.host,
        container: { external_id: WEB_1.external_id, name: WEB_1.name },
        ts: testTime("10:00:00.000"),
        cpu_percent: 12.5,
      }),
    );
    await eventually(
      async () => {
        const rows = await api.postgres.db
          .selectFrom("containers")
          .select(["id", "external_id", "gone_at"])
          .execute();
        const gone = rows.filter((row) => row.gone_at !== null).length;
        const sampled = await api.count("container_stats");
        if (rows.length !== ALL.length || gone !== REMOVED.length || sampled !== 1) return undefined;
        for (const row of rows) ids.set(row.external_id, row.id);
        return true;
      },
      { timeoutMs: 20_000, what: "the store to write every container, removal and sample" },
    );
  });

  afterAll(async () => {
    await api?.close();
  });

  it("finds a container by the full id, the 12-character id `docker ps` shows, and its name with the host", async () => {
    for (const ref of [
      String(idOf(WEB_1)),
      WEB_1.external_id,
      WEB_1.external_id.slice(0, 12),
      WEB_1.external_id.slice(0, 12).toUpperCase(),
      "web?host=node-1",
      // dockerd's inspect names it /web.
      "%2Fweb?host=node-1",
    ]) {
      const { status, body } = await get(`/containers/${ref}`);
      expect({ ref, status, id: body.id }).toEqual({ ref, status: 200, id: idOf(WEB_1) });
    }
    const current = await get(`/containers/${WEB_1.external_id.slice(0, 12)}/stats/current`);
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ container_id: idOf(WEB_1), cpu_percent: 12.5 });
  });

  it("answers a name on two hosts with 409 and both candidates, and ?host= picks one", async () => {
    const { status, body } = await get<ErrorBody>("/containers/web/stats/current");
    expect(status).toBe(409);
    expect(body.error.code).toBe("ambiguous");
    expect(body.error.message).toContain("?host=");
    expect(body.error.candidates).toEqual([
      { id: idOf(WEB_1), host: "node-1", name: "web", external_id: WEB_1.external_id },
      { id: idOf(WEB_2), host: "node-2", name: "web", external_id: WEB_2.external_id },
    ]);
    expect((await get("/containers/web?host=node-2")).body.id).toBe(idOf(WEB_2));
  });

  it("answers an id prefix two containers share with 409, and one character more finds one", async () => {
    const { status, body } = await get<ErrorBody>("/containers/0123456789ab");
    expect(status).toBe(409);
    expect(body.error.candidates?.map((candidate) => candidate.name)).toEqual(["twin-a", "twin-b"]);
    expect((await get("/containers/0123456789abb")).body.id).toBe(idOf(TWIN_B));
  });

  it("takes no id prefix shorter than 12 characters", async () => {
    const { status, body } = await get<ErrorBody>(`/containers/${WEB_1.external_id.slice(0, 11)}`);
    expect(status).toBe(404);
    expect(body.error.code).toBe("not_found");
  });

  it("prefers the container that exists over removed ones of the same name", async () => {
    expect((await get("/containers/api")).body.id).toBe(idOf(NEW_API));
    // A removed one is still reachable by its own id.
    expect((await get(`/containers/${OLD_API.external_id.slice(0, 12)}`)).body.id).toBe(idOf(OLD_API));
  });

  it("answers a name only removed containers had, more than one, with 409", async () => {
    const { status, body } = await get<ErrorBody>("/containers/batch");
    expect(status).toBe(409);
    expect(body.error.candidates?.map((candidate) => candidate.id)).toEqual([idOf(BATCH_1), idOf(BATCH_2)]);
  });

  it("finds a Kubernetes container by namespace/pod/container", async () => {
    const { status, body } = await get(`/containers/${encodeURIComponent(POD.external_id)}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: idOf(POD), runtime: "kubernetes", host: "k8s-1" });
  });

  it("keeps the numeric id, and reads digits as a name when no container has that id", async () => {
    expect((await get(`/containers/${idOf(TWIN_A)}`)).body.id).toBe(idOf(TWIN_A));
    expect((await get("/containers/2024")).body.id).toBe(idOf(DIGITS));
    const missing = await get<ErrorBody>("/containers/999999");
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe("no container with id 999999");
  });

  it("answers 404 for a reference that fits nothing, or nothing on the host asked for", async () => {
    for (const path of [
      "/containers/nothing",
      "/containers/web?host=node-3",
      `/containers/${idOf(WEB_1)}?host=node-2`,
    ]) {
      const { status, body } = await get<ErrorBody>(path);
      expect({ path, status, code: body.error.code }).toEqual({ path, status: 404, code: "not_found" });
    }
    expect((await get<ErrorBody>("/containers/nothing")).body.error.message).toBe('no container "nothing"');
  });

  it("refuses a reference that cannot name a container with 400", async () => {
    for (const ref of ["%01", "x".repeat(513)]) {
      const { status, body } = await get<ErrorBody>(`/containers/${ref}`);
      expect({ ref: ref.slice(0, 5), status, code: body.error.code }).toEqual({
        ref: ref.slice(0, 5),
        status: 400,
        code: "invalid_request",
      });
    }
  });

  it("accepts a reference on every route that takes a container, as the OpenAPI document lists them", async () => {
    const document = (await get<{ paths: Record<string, Record<string, unknown>> }>("/openapi.json")).body;
    const routes = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ path: path.replace(/^\/api\/v1/, ""), method })),
    );
    const byPath = routes.filter((route) => route.path.startsWith("/containers/{id}"));
    expect(byPath.length).toBeGreaterThanOrEqual(9);
    for (const { path, method } of byPath) {
      const call = (ref: string, query = "") =>
        api.call<ErrorBody>(method.toUpperCase(), `/api/v1${path.replace("{id}", ref)}${query}`, {
          token: TEST_ADMIN_TOKEN,
          // A valid body for each route that takes one, so only the reference can be refused.
          ...(method === "put"
            ? { body: path.endsWith("/notifications/mute") ? {} : { cpu_threshold: 90 } }
            : {}),
        });
      const ambiguous = await call("web");
      expect({ path, method, status: ambiguous.status }).toEqual({ path, method, status: 409 });
      expect(ambiguous.body.error.candidates).toHaveLength(2);
      // Resolved: whatever the route answers then, it is not about the reference. Logs and
      // inspect go on to ask node-1's watcher, which this test does not run.
      for (const [ref, query] of [
        [WEB_1.external_id.slice(0, 12), ""],
        ["web", "?host=node-1"],
      ] as const) {
        const resolved = await call(ref, query);
        const expected = path.endsWith("/logs") || path.endsWith("/inspect") ? 503 : 200;
        expect({ path, method, ref, status: resolved.status }).toEqual({
          path,
          method,
          ref,
          status: expected,
        });
      }
    }
    const byQuery = routes.filter((route) => route.path === "/events" || route.path === "/alerts/history");
    expect(byQuery).toHaveLength(2);
    for (const { path } of byQuery) {
      expect((await get<ErrorBody>(`${path}?container_id=web`)).status).toBe(409);
      expect((await get(`${path}?container_id=web&host=node-1`)).status).toBe(200);
      expect((await get(`${path}?container_id=${WEB_1.external_id}`)).status).toBe(200);
      expect((await get(`${path}?container_id=nothing`)).status).toBe(404);
    }
    const events = await get<{ data: { container_id: number }[] }>(
      `/events?container_id=${OLD_API.external_id.slice(0, 12)}`,
    );
    expect(events.body.data.map((event) => event.container_id)).toEqual([idOf(OLD_API)]);
  });

  it("describes the reference and the 409 in the OpenAPI document", async () => {
    const document = (
      await get<{
        paths: Record<
          string,
          { get: { parameters: Record<string, unknown>[]; responses: Record<string, unknown> } }
        >;
        components: { schemas: Record<string, unknown> };
      }>("/openapi.json")
    ).body;
    const operation = document.paths["/api/v1/containers/{id}/stats/current"]?.get;
    expect(operation?.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: "id",
          in: "path",
          schema: expect.objectContaining({
            type: "string",
            description: expect.stringContaining("docker ps"),
          }),
        }),
        expect.objectContaining({ name: "host", in: "query" }),
      ]),
    );
    expect(operation?.responses["409"]).toMatchObject({
      content: { "application/json": { schema: { $ref: "#/components/schemas/AmbiguousContainer" } } },
    });
    expect(document.components.schemas.ContainerCandidate).toMatchObject({
      required: ["id", "host", "name", "external_id"],
    });
  });
});
