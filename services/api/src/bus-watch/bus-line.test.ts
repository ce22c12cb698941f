// What crowsnest-bus prints for each kind of bus message, and for messages it cannot read.
import { codecs } from "@crowsnest/shared";
import { describe, expect, it } from "vitest";
import { eventFixture, statsFixture } from "../../../../test/support/bus-fixtures.ts";
import { formatBusMessage } from "./bus-line.ts";

const ROOT = "crowsnest.v1";
const NOW = Date.parse("2026-11-21T20:15:09.000Z");
const encode = <T>(codec: { encode(value: T): { ok: boolean; data?: Uint8Array } }, value: T) => {
  const encoded = codec.encode(value);
  if (!encoded.ok || !encoded.data) throw new Error("fixture does not encode");
  return encoded.data;
};
const text = (value: string) => new TextEncoder().encode(value);

describe("formatBusMessage", () => {
  it("shows a sample's time, container and figures in a person's units", () => {
    const data = encode(
      codecs.stats,
      statsFixture({
        ts: "2026-11-21T20:15:00.123Z",
        host: "node-1",
        container: { external_id: "a".repeat(64), name: "web" },
        cpu_percent: 97.84,
        mem_used: 67_239_936,
        mem_limit: 268_435_456,
        net_rx_bytes_per_s: 2048,
        net_tx_bytes_per_s: 0.8,
        pids: 3,
      }),
    );
    expect(formatBusMessage("crowsnest.v1.stats.node-1.docker.web", data, ROOT, NOW)).toBe(
      "20:15:00.123  stats     node-1/web                   cpu 97.8%  mem 64.1 MiB / 256.0 MiB  net ↓2.0 KiB/s ↑1 B/s  pids 3",
    );
  });

  it("shows an event's action with its exit code and OOM", () => {
    const data = encode(
      codecs.event,
      eventFixture({
        ts: "2026-11-21T20:15:00.123Z",
        action: "die",
        actor: { external_id: "a".repeat(64), name: "web" },
        exit_code: 137,
        oom_killed: true,
      }),
    );
    expect(formatBusMessage("crowsnest.v1.events.host-a.docker.container.die", data, ROOT, NOW)).toBe(
      "20:15:00.123  event     host-a/web                   die  exit 137  oom",
    );
  });

  it("shows what is wrong with a message that is not the contract's, with an excerpt, at the time it came", () => {
    const line = formatBusMessage(
      "crowsnest.v1.stats.node-1.docker.web",
      text('{"v":1,"cpu_percent":-1}'),
      ROOT,
      NOW,
    );
    expect(line).toMatch(/^20:15:09\.000 {2}invalid {3}crowsnest\.v1\.stats\.node-1\.docker\.web /);
    expect(line).toContain('{"v":1,"cpu_percent":-1}');
    expect(formatBusMessage("crowsnest.v1.events.a.b.c.d", text("not json\nat all"), ROOT, NOW)).toContain(
      "not json at all",
    );
  });

  it("shows requests and other subjects as they are, cut short", () => {
    const line = formatBusMessage("crowsnest.v1.rpc.node-1.logs", text("x".repeat(500)), ROOT, NOW);
    expect(line).toContain("other     crowsnest.v1.rpc.node-1.logs");
    expect(line.endsWith(`${"x".repeat(200)}…`)).toBe(true);
    expect(formatBusMessage("elsewhere.thing", text("{}"), ROOT, NOW)).toContain("other     elsewhere.thing");
  });
});
