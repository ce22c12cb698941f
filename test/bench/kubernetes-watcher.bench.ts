// The Kubernetes watcher against the tests' real kube-apiserver (test/infra/kubernetes/) and NATS:
// (1) event latency from an API write to the event's arrival on NATS, over 200 pods on a fake
// node: pod creation → `pod.scheduled`, and a status write (the kubelet's part) → `container.start`,
// a few writes in flight at a time; split into the API server's part (write → the watch event
// reaching the watcher) and the watcher's own (watch event → NATS message). (2) The memory of the
// real watcher (services/watcher/src/main.ts, CROWSNEST_RUNTIME=kubernetes) with 2000 pods on its
// node in the informer cache, as main.ts and as the image runs it (types stripped beforehand).
// Targets: p99 ≤ 50 ms; ≤ 150 MB RSS. Measures and prints; asserts nothing. Needs
// CROWSNEST_TEST_KUBECONFIG (test/infra/prepare-machine.sh); without it, it skips.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import {
  ANY,
  codecs,
  commonConfigFrom,
  commonEnv,
  createLogger,
  createSubjects,
  DEFAULT_STREAM_RETENTION,
  openBus,
  parseEnv,
  type Subjects,
  streamDefinitions,
} from "@crowsnest/shared";
import { createKubeClient, type KubeClient, loadKubeconfigFile } from "@crowsnest/shared/kubernetes";
import { forEachBounded } from "@crowsnest/shared/util/bounded-concurrency";
import { field } from "@crowsnest/shared/util/json-fields";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  createPublishedStateStore,
  openWatcherStateBucket,
  watcherStateBucketName,
} from "../../services/watcher/src/recovery/published-state-store.ts";
import { podRecordCodec } from "../../services/watcher/src/runtimes/kubernetes/kube-pod-record.ts";
import { createKubernetesWatcher } from "../../services/watcher/src/runtimes/kubernetes/kubernetes-watcher.ts";
import { connectKubernetesCluster, uniqueKubernetesName } from "../support/kubernetes-cluster.ts";
import { buildStrippedCopy, memoryFigures } from "./support/service-memory.ts";

const NATS_URL = process.env.CROWSNEST_TEST_NATS_URL || "nats://127.0.0.1:4222";
const LATENCY_PODS = 200;
const CACHE_PODS = 2000;
const IN_FLIGHT = 4;
const RSS_SECONDS = 20;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function summary(name: string, latenciesMs: readonly number[]) {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    measurement: name,
    samples: sorted.length,
    "p50 ms": Number(percentile(sorted, 50).toFixed(1)),
    "p99 ms": Number(percentile(sorted, 99).toFixed(1)),
    "max ms": Number((sorted.at(-1) ?? Number.NaN).toFixed(1)),
  };
}

const podManifest = (name: string, node: string) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: { app: "bench", "dev.crowsnest.bench": "1" } },
  spec: {
    nodeName: node,
    containers: [
      {
        name: "app",
        image: "registry.invalid/bench:1",
        resources: { limits: { memory: "32Mi", cpu: "100m" } },
      },
    ],
  },
});

/** The client, with the time each pod's latest watch event reached the watcher noted down. */
function timedClient(client: KubeClient, seen: Map<string, number>): KubeClient {
  return {
    ...client,
    async *watch(path, options) {
      for await (const event of client.watch(path, options)) {
        const name = field(event.object.metadata, "name");
        if (typeof name === "string") seen.set(name, performance.now());
        yield event;
      }
    },
  };
}

export async function run(): Promise<void> {
  const kubeconfig = process.env.CROWSNEST_TEST_KUBECONFIG;
  if (!kubeconfig) {
    console.log("skipped: CROWSNEST_TEST_KUBECONFIG is not set (no test API server)");
    return;
  }
  const cluster = connectKubernetesCluster(kubeconfig);
  const namespace = await cluster.createNamespace("crowsnest-bench");
  const node = await cluster.registerFakeNode({
    name: uniqueKubernetesName("bench-node"),
    kubeletPort: 10250,
  });
  const prefix = `bench-k8s-${Date.now().toString(36)}`;
  const host = node.name;
  const subjects = createSubjects(prefix);
  const logger = createLogger({ service: "watcher", level: "warn", host });
  const common = commonConfigFrom(
    parseEnv(commonEnv, { CROWSNEST_NATS_URL: NATS_URL, CROWSNEST_SUBJECT_PREFIX: prefix }),
  );
  const bus = await openBus({ config: common, service: "watcher", host, logger });
  const nc = await connect({ servers: NATS_URL });
  const arrivals = new Map<string, number>();
  const subscription = nc.subscribe(subjects.event(host, "kubernetes", ANY, ANY));
  void (async () => {
    for await (const message of subscription) {
      const decoded = codecs.event.decode(message.data);
      if (decoded.ok)
        arrivals.set(`${decoded.value.actor.external_id}#${decoded.value.action}`, performance.now());
    }
  })();
  await nc.flush();
  const client = createKubeClient({ access: await loadKubeconfigFile(kubeconfig), timeoutMs: 30_000 });
  const watchSeen = new Map<string, number>();
  const watcher = createKubernetesWatcher({
    client: timedClient(client, watchSeen),
    js: bus.js,
    subjects: bus.subjects,
    host,
    logger,
    nodeName: node.name,
    inventoryIntervalMs: 300_000,
    maxPayloadBytes: () => bus.nc.info?.max_payload ?? 1024 * 1024,
    watchStallMs: 90_000,
    requestTimeoutMs: 30_000,
    // As main.ts wires it: the events' latency includes recording what was published.
    publishedState: createPublishedStateStore({
      openBucket: () =>
        openWatcherStateBucket(bus.js, bus.subjects, { replicas: bus.streamReplicas, logger }),
      host,
      runtime: "kubernetes",
      codec: podRecordCodec,
      logger,
    }),
  });
  const arrival = async (key: string): Promise<number> => {
    for (let waited = 0; waited < 10_000; waited += 2) {
      const at = arrivals.get(key);
      if (at !== undefined) return at;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    throw new Error(`no ${key} event within 10 s`);
  };
  const podsPath = `/api/v1/namespaces/${namespace.name}/pods`;
  try {
    watcher.start();
    while (!watcher.isConnected()) await new Promise((resolve) => setTimeout(resolve, 50));

    const names = Array.from({ length: LATENCY_PODS }, (_, index) => `lat-${index}`);
    const phases = { total: [] as number[], api: [] as number[], watcher: [] as number[] };
    const measure = async (name: string, key: string, write: () => Promise<unknown>) => {
      const written = performance.now();
      await write();
      const arrived = await arrival(key);
      const seen = watchSeen.get(name) ?? Number.NaN;
      return { total: arrived - written, api: seen - written, watcher: arrived - seen };
    };
    const rows = [];
    for (const [label, key, write] of [
      [
        "create pod → pod.scheduled",
        (name: string) => `${namespace.name}/${name}#scheduled`,
        (name: string) => cluster.create(podsPath, podManifest(name, node.name)),
      ],
      [
        "status write → container.start",
        (name: string) => `${namespace.name}/${name}/app#start`,
        (name: string) =>
          cluster.patch(`${podsPath}/${name}/status`, {
            status: {
              phase: "Running",
              containerStatuses: [
                {
                  name: "app",
                  image: "registry.invalid/bench:1",
                  imageID: "",
                  ready: false,
                  restartCount: 0,
                  state: { running: { startedAt: new Date().toISOString() } },
                },
              ],
            },
          }),
      ],
    ] as const) {
      phases.total = [];
      phases.api = [];
      phases.watcher = [];
      // The watcher runs in this process: its share includes waiting for this event loop.
      const loopDelay = monitorEventLoopDelay({ resolution: 5 });
      loopDelay.enable();
      await forEachBounded(names, IN_FLIGHT, async (name) => {
        const figures = await measure(name, key(name), () => write(name));
        phases.total.push(figures.total);
        phases.api.push(figures.api);
        phases.watcher.push(figures.watcher);
      });
      loopDelay.disable();
      rows.push(
        summary(`${label}: API write → NATS`, phases.total),
        summary("  of which API write → watch event", phases.api),
        summary("  of which watch event → NATS (the watcher)", phases.watcher),
        {
          measurement: "  event-loop delay of this process meanwhile",
          samples: loopDelay.count,
          "p50 ms": Number((loopDelay.percentile(50) / 1e6).toFixed(1)),
          "p99 ms": Number((loopDelay.percentile(99) / 1e6).toFixed(1)),
          "max ms": Number((loopDelay.max / 1e6).toFixed(1)),
        },
      );
    }
    console.log(
      `\nevent latency, ${LATENCY_PODS} pods, ${IN_FLIGHT} writes in flight (target p99 ≤ 50 ms from API write to NATS)`,
    );
    console.table(rows);
    console.log(`load average (1 min) of the machine: ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores`);
    await watcher.stop();

    const rest = Array.from({ length: CACHE_PODS - LATENCY_PODS }, (_, index) => `rss-${index}`);
    await forEachBounded(rest, 16, async (name) => {
      await cluster.create(podsPath, podManifest(name, node.name));
    });
    const built = buildStrippedCopy();
    try {
      const memory = [];
      for (const [variant, entry] of [
        [
          "main.ts (types stripped as modules load)",
          [
            "--conditions=crowsnest-source",
            "--disable-warning=ExperimentalWarning",
            "services/watcher/src/main.ts",
          ],
        ],
        ["types stripped beforehand (as the image runs)", [join(built.dir, "watcher", "src", "main.js")]],
      ] as const) {
        memory.push({
          variant,
          ...(await measureWatcherRss({ kubeconfig, prefix, nodeName: node.name, subjects, nc, entry })),
        });
      }
      console.log(
        `\nmemory of the real watcher in Kubernetes mode, ${CACHE_PODS} pods on its node, ${RSS_SECONDS} s after its startup inventory (target ≤ 150 MB RSS)`,
      );
      console.table(memory);
    } finally {
      built.cleanup();
    }
  } finally {
    subscription.unsubscribe();
    await watcher.stop();
    client.close();
    await node.remove();
    await namespace.delete();
    const jsm = await jetstreamManager(nc);
    for (const { config: stream } of streamDefinitions(subjects, DEFAULT_STREAM_RETENTION)) {
      await jsm.streams.delete(stream.name).catch(() => undefined);
    }
    await jsm.streams.delete(`KV_${watcherStateBucketName(subjects)}`).catch(() => undefined);
    await nc.close();
    await bus.drain();
  }
}

async function measureWatcherRss(options: {
  kubeconfig: string;
  prefix: string;
  nodeName: string;
  subjects: Subjects;
  nc: NatsConnection;
  entry: readonly string[];
}): Promise<Record<string, number>> {
  let inventoried = 0;
  let snapshot = "";
  const inventories = options.nc.subscribe(options.subjects.inventory(options.nodeName, "kubernetes"));
  void (async () => {
    for await (const message of inventories) {
      const decoded = codecs.inventory.decode(message.data);
      if (!decoded.ok) continue;
      if (decoded.value.snapshot_id !== snapshot) {
        snapshot = decoded.value.snapshot_id;
        inventoried = 0;
      }
      inventoried += decoded.value.containers.length;
    }
  })();
  const started = performance.now();
  const child = spawn(process.execPath, [...options.entry], {
    cwd: new URL("../..", import.meta.url),
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      CROWSNEST_RUNTIME: "kubernetes",
      CROWSNEST_KUBECONFIG: options.kubeconfig,
      CROWSNEST_KUBERNETES_NODE_NAME: options.nodeName,
      CROWSNEST_NATS_URL: NATS_URL,
      CROWSNEST_SUBJECT_PREFIX: options.prefix,
      CROWSNEST_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  let peakRssMb = 0;
  let last: ReturnType<typeof memoryFigures>;
  try {
    while (inventoried < CACHE_PODS && performance.now() - started < 60_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const figures = child.pid === undefined ? undefined : memoryFigures(child.pid);
      if (figures) peakRssMb = Math.max(peakRssMb, figures.rssMb);
    }
    const syncedMs = performance.now() - started;
    for (let second = 0; second < RSS_SECONDS; second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      last = child.pid === undefined ? undefined : memoryFigures(child.pid);
      if (last) peakRssMb = Math.max(peakRssMb, last.rssMb);
    }
    return {
      "containers in startup inventory": inventoried,
      "start → inventory ms": Math.round(syncedMs),
      "VmRSS MB": Number((last?.rssMb ?? Number.NaN).toFixed(1)),
      "VmRSS MB peak": Number(peakRssMb.toFixed(1)),
      "PSS MB": Number((last?.pssMb ?? Number.NaN).toFixed(1)),
      "private MB": Number((last?.privateMb ?? Number.NaN).toFixed(1)),
    };
  } finally {
    inventories.unsubscribe();
    if (child.exitCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
  }
}
