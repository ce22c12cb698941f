// The per-message cost every sample pays twice (publish and consume): schema-checked encode
// and decode against bare JSON, and subject building.
import { codecs, createSubjects, type StatsMessage } from "@crowsnest/shared";
import { Bench } from "tinybench";

const sample: StatsMessage = {
  v: 1,
  host: "node-1",
  runtime: "docker",
  container: { external_id: "4f1c9b0e2a7d".repeat(5), name: "shop-web-1" },
  ts: "2026-11-21T20:15:00.123Z",
  interval_ms: 10_002,
  cpu_percent: 97.8,
  online_cpus: 2,
  cpu_limit_cores: null,
  mem_used: 67_239_936,
  mem_limit: 268_435_456,
  net_rx_bytes: 52_310,
  net_tx_bytes: 1804,
  net_rx_bytes_per_s: 12.4,
  net_tx_bytes_per_s: 0.8,
  blk_read_bytes: 4096,
  blk_write_bytes: 0,
  blk_read_bytes_per_s: 0,
  blk_write_bytes_per_s: 0,
  pids: 3,
};

export async function run(): Promise<void> {
  const encoded = new TextEncoder().encode(JSON.stringify(sample));
  const subjects = createSubjects();
  const bench = new Bench({ time: 500 });
  bench
    .add("stats codec encode (validate + JSON)", () => {
      codecs.stats.encode(sample);
    })
    .add("bare JSON.stringify + UTF-8 encode", () => {
      new TextEncoder().encode(JSON.stringify(sample));
    })
    .add("stats codec decode (JSON + validate)", () => {
      codecs.stats.decode(encoded);
    })
    .add("bare UTF-8 decode + JSON.parse", () => {
      JSON.parse(new TextDecoder().decode(encoded));
    })
    .add("stats subject, plain names", () => {
      subjects.stats("node-1", "docker", "shop-web-1");
    })
    .add("stats subject, names needing escapes", () => {
      subjects.stats("node-1.example.com", "docker", "shop.web/1");
    });
  await bench.run();
  console.log("codec and subjects, per message");
  console.table(
    bench.tasks.map((task) => {
      const result = task.result as { throughput?: { p50?: number }; latency?: { p50?: number } } | undefined;
      return {
        task: task.name,
        "median ops/s": Math.round(result?.throughput?.p50 ?? 0),
        "median µs/op": Number(((result?.latency?.p50 ?? 0) * 1000).toFixed(2)),
      };
    }),
  );
}
