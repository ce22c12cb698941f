import { codecs, createSubjects, type HostStatsMessage, type StatsMessage } from "@crowsnest/shared";
import type { OutgoingMessage } from "@crowsnest/shared/publishing";
import { describe, expect, it } from "vitest";
import { CONTAINER_ID, statsMessage } from "../fixtures/stats-message.ts";
import { HostStatsPublisher } from "./host-stats-publisher.ts";
import { StatsPublisher } from "./stats-publisher.ts";

function setup() {
  const queued: OutgoingMessage[] = [];
  const publisher = new StatsPublisher({
    queue: { enqueue: (outgoing) => void queued.push(outgoing) },
    subjects: createSubjects("acme"),
  });
  return { publisher, queued };
}

describe("StatsPublisher", () => {
  it("queues the sample on the container's subject with a message id that names the sample", () => {
    const { publisher, queued } = setup();
    expect(publisher.publish(statsMessage())).toEqual({ status: "queued" });
    expect(queued).toHaveLength(1);
    const [sent] = queued;
    expect(sent?.subject).toBe("acme.v1.stats.node-1~2Eexample~2Ecom.docker.shop~2Eapi~2E1");
    expect(String(sent?.msgID)).toBe(`node-1.example.com/docker/${CONTAINER_ID}/2026-11-21T21:00:10.124Z`);
    const decoded = codecs.stats.decode(sent?.payload ?? new Uint8Array());
    expect(decoded).toEqual({ ok: true, value: statsMessage() });
  });

  it("puts every sample on its own container's, host's and runtime's subject, also after a rename or another host", () => {
    const { publisher, queued } = setup();
    const samples = [
      statsMessage(),
      statsMessage({ container: { external_id: "b".repeat(64), name: "db" } }),
      statsMessage(),
      statsMessage({ container: { external_id: CONTAINER_ID, name: "shop-renamed" } }),
      statsMessage({ host: "node-2", container: { external_id: CONTAINER_ID, name: "shop-renamed" } }),
      statsMessage({
        host: "node-2",
        runtime: "containerd",
        container: { external_id: CONTAINER_ID, name: "shop-renamed" },
      }),
      statsMessage(),
    ];
    for (const sample of samples) expect(publisher.publish(sample)).toEqual({ status: "queued" });
    const subjects = createSubjects("acme");
    expect(queued.map((sent) => sent.subject)).toEqual(
      samples.map((sample) => subjects.stats(sample.host, sample.runtime, sample.container.name)),
    );
    expect(new Set(queued.map((sent) => sent.subject)).size).toBe(5);
  });

  it("does not queue a message that fails the contract", () => {
    const { publisher, queued } = setup();
    const result = publisher.publish(statsMessage({ cpu_percent: -1 }));
    expect(result).toMatchObject({ status: "invalid", detail: expect.stringContaining("cpu_percent") });
    expect(queued).toHaveLength(0);
  });

  it("never queues a non-finite, negative or fractional figure, and names the field", () => {
    const { publisher, queued } = setup();
    const bad: [keyof StatsMessage, number][] = [
      ["cpu_percent", Number.NaN],
      ["cpu_percent", Number.POSITIVE_INFINITY],
      ["mem_used", Number.NaN],
      ["mem_used", -4096],
      ["mem_used", 1.5],
      ["net_rx_bytes_per_s", Number.NEGATIVE_INFINITY],
      ["blk_write_bytes", 2 ** 53],
      ["interval_ms", 0],
      ["online_cpus", 0],
      ["cpu_limit_cores", 0],
      ["pids", -1],
    ];
    for (const [field, value] of bad) {
      expect(publisher.publish(statsMessage({ [field]: value }))).toMatchObject({
        status: "invalid",
        detail: expect.stringContaining(field),
      });
    }
    expect(publisher.publish(statsMessage({ ts: "2026-02-30T21:00:10.124Z" }))).toMatchObject({
      status: "invalid",
    });
    expect(queued).toHaveLength(0);
  });

  it("publishes a valid message the quick check leaves to the schema, as the schema reads it", () => {
    const { publisher, queued } = setup();
    expect(publisher.publish(statsMessage({ source: "metrics_api" }))).toEqual({ status: "queued" });
    expect(codecs.stats.decode(queued[0]?.payload ?? new Uint8Array())).toEqual({
      ok: true,
      value: statsMessage({ source: "metrics_api" }),
    });
  });
});

describe("HostStatsPublisher", () => {
  const hostMessage: HostStatsMessage = {
    v: 1,
    host: "node-1.example.com",
    ts: "2026-11-21T21:00:10.000Z",
    cpu_percent: 12.5,
    online_cpus: 2,
    mem_total: 1000,
    mem_used: 400,
    mem_available: 600,
    load_1: 0.5,
    load_5: 0.25,
    load_15: 0.1,
    uptime_s: 3600.5,
  };

  it("queues the host sample on the host's subject, with the message id `<host>/host/<ts>`", () => {
    const queued: OutgoingMessage[] = [];
    const publisher = new HostStatsPublisher({
      queue: { enqueue: (outgoing) => void queued.push(outgoing) },
      subjects: createSubjects("acme"),
    });
    expect(publisher.publish(hostMessage)).toEqual({ status: "queued" });
    expect(queued[0]?.subject).toBe("acme.v1.host.node-1~2Eexample~2Ecom");
    expect(queued[0]?.msgID).toBe("node-1.example.com/host/2026-11-21T21:00:10.000Z");
    expect(codecs.hostStats.decode(queued[0]?.payload ?? new Uint8Array())).toEqual({
      ok: true,
      value: hostMessage,
    });
    expect(publisher.publish({ ...hostMessage, cpu_percent: 101 })).toMatchObject({ status: "invalid" });
    expect(queued).toHaveLength(1);
  });
});
