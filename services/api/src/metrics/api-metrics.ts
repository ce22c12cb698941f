// The api's own metrics (requests, live streams, known agents, dead letters) and, at scrape
// time, each live container's latest sample as gauges. Container gauges carry only host,
// container name and id as labels: never the container's own labels, which are unbounded in
// number and may hold secrets.
import type { DeadletterSink } from "@crowsnest/shared";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { type Kysely, sql } from "kysely";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AgentDirectory } from "../agents/agent-registry.ts";
import type { ApiDatabase } from "../db/api-database.ts";
import type { AppEnv } from "../http/app-env.ts";

/** Samples older than this are not exported: the container has stopped reporting. */
const FRESH_SAMPLE_SECONDS = 300;

export interface MetricsSources {
  agents: AgentDirectory;
  openStreams: () => number;
  deadletters: Pick<DeadletterSink, "counts">;
  /** Most containers exported per scrape; those beyond it (by id) are left out and counted. */
  maxContainers: number;
}

const CONTAINER_GAUGES = [
  ["cpu_percent", "crowsnest_container_cpu_percent", "CPU use, 100 = one core"],
  ["mem_used", "crowsnest_container_memory_used_bytes", "Memory used without inactive file cache"],
  ["mem_limit", "crowsnest_container_memory_limit_bytes", "Memory limit (absent when unlimited)"],
  ["net_rx_bytes_per_s", "crowsnest_container_network_receive_bytes_per_second", "Network receive rate"],
  ["net_tx_bytes_per_s", "crowsnest_container_network_transmit_bytes_per_second", "Network transmit rate"],
  ["blk_read_bytes_per_s", "crowsnest_container_block_read_bytes_per_second", "Block read rate"],
  ["blk_write_bytes_per_s", "crowsnest_container_block_write_bytes_per_second", "Block write rate"],
  ["pids", "crowsnest_container_pids", "Processes in the container"],
] as const;

type SampleColumn = (typeof CONTAINER_GAUGES)[number][0];

export class ApiMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"method" | "route" | "status">;
  readonly #duration: Histogram<"method" | "route">;
  readonly #containerGauges: (readonly [SampleColumn, Gauge<"host" | "container" | "container_id">])[];
  readonly #leftOut: Gauge;
  readonly #db: Kysely<ApiDatabase>;
  readonly #maxContainers: number;

  constructor(sources: MetricsSources, db: Kysely<ApiDatabase>) {
    const registry = this.registry;
    this.#requests = new Counter({
      name: "crowsnest_api_requests_total",
      help: "HTTP requests answered, by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: "crowsnest_api_request_duration_seconds",
      help: "Time to answer an HTTP request (to the first byte for streams)",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    new Gauge({
      name: "crowsnest_api_live_streams",
      help: "Live streams open on this instance",
      registers: [registry],
      collect() {
        this.set(sources.openStreams());
      },
    });
    new Gauge({
      name: "crowsnest_agent_up",
      help: "1 when the service's last heartbeat is recent, 0 when stale",
      labelNames: ["host", "service"],
      registers: [registry],
      collect() {
        this.reset();
        for (const agent of sources.agents.list(Date.now())) {
          this.set({ host: agent.host, service: agent.service }, agent.stale ? 0 : 1);
        }
      },
    });
    // A counter (the `_total` suffix promises one): the sink's counts only grow while the
    // process lives, so each scrape adds what was counted since the previous one.
    const exported = new Map<string, number>();
    new Counter({
      name: "crowsnest_api_deadletters_total",
      help: "Messages this instance could not use since it started, by reason",
      labelNames: ["reason"],
      registers: [registry],
      collect() {
        for (const [reason, count] of Object.entries(sources.deadletters.counts)) {
          this.inc({ reason }, count - (exported.get(reason) ?? 0));
          exported.set(reason, count);
        }
      },
    });
    this.#containerGauges = CONTAINER_GAUGES.map(
      ([column, name, help]) =>
        [
          column,
          new Gauge({ name, help, labelNames: ["host", "container", "container_id"], registers: [registry] }),
        ] as const,
    );
    this.#leftOut = new Gauge({
      name: "crowsnest_metrics_containers_left_out",
      help: "Live containers not exported because of the per-scrape limit (CROWSNEST_API_METRICS_MAX_CONTAINERS)",
      registers: [registry],
    });
    this.#db = db;
    this.#maxContainers = sources.maxContainers;
  }

  /** The exposition text: container gauges from one query, then everything else. */
  async render(): Promise<string> {
    const rows = await latestSamples(this.#db, this.#maxContainers);
    this.#leftOut.set(rows.length === 0 ? 0 : Number(rows[0]?.live) - rows.length);
    for (const [, gauge] of this.#containerGauges) gauge.reset();
    for (const row of rows) {
      const labels = { host: row.host, container: row.name, container_id: String(row.id) };
      for (const [column, gauge] of this.#containerGauges) {
        const value = row[column];
        if (value !== null) gauge.set(labels, value);
      }
    }
    return this.registry.metrics();
  }

  /** Counts and times every request by its route pattern (bounded), not its raw path. */
  middleware(): MiddlewareHandler<AppEnv> {
    const requests = this.#requests;
    const duration = this.#duration;
    return async function measure(c, next) {
      const stop = duration.startTimer();
      await next();
      const matched = routePath(c, -1);
      const route = matched === "/*" || matched === "*" ? "unmatched" : matched;
      stop({ method: c.req.method, route });
      requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    };
  }
}

async function latestSamples(db: Kysely<ApiDatabase>, limit: number) {
  // `live` counts every container with a fresh sample before LIMIT applies, so what the
  // limit leaves out is known from the same statement.
  const result = await sql<
    { id: number; host: string; name: string; live: string } & Record<SampleColumn, number | null>
  >`
    SELECT c.id, c.host, c.name, count(*) OVER () AS live, s.cpu_percent, s.mem_used, s.mem_limit, s.net_rx_bytes_per_s, s.net_tx_bytes_per_s,
           s.blk_read_bytes_per_s, s.blk_write_bytes_per_s, s.pids
    FROM containers c
    CROSS JOIN LATERAL (
      SELECT * FROM container_stats
      WHERE container_id = c.id AND ts > now() - make_interval(secs => ${FRESH_SAMPLE_SECONDS})
      ORDER BY ts DESC LIMIT 1
    ) s
    WHERE c.gone_at IS NULL
    ORDER BY c.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}
