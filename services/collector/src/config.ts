// The collector's configuration: every variable it reads, with meaning and default, and the
// typed config built from them. The only module of the collector that reads process.env.
// Each runtime's own variables live with the runtime (runtimes/<name>/<name>-config.ts); the
// config holds only the selected runtime's settings.
import {
  type CommonConfig,
  commonConfigFrom,
  commonEnv,
  type EnvSource,
  envInteger,
  envString,
  parseEnv,
  runtimeConfigFrom,
  runtimeEnv,
} from "@crowsnest/shared/agent";
import {
  type CollectorTarget,
  collectorTargetFrom,
  runtimeCollectorEnv,
} from "./runtimes/collector-runtimes.ts";

export const collectorEnv = {
  ...commonEnv,
  ...runtimeEnv,
  CROWSNEST_COLLECT_INTERVAL_MS: envInteger({
    description: "How often every running container is sampled.",
    default: 10_000,
    min: 1000,
    max: 3_600_000,
  }),
  CROWSNEST_COLLECT_CONCURRENCY: envInteger({
    description:
      "How many containers (Docker) or nodes' summaries (Kubernetes) are sampled at the same time within one tick. Docker 20.10 holds each one-shot call until its next 1 s collection round, so a tick takes about (running containers / this) seconds.",
    default: 32,
    min: 1,
    max: 256,
  }),
  CROWSNEST_PROC_ROOT: envString({
    description:
      "Where the host's /proc is visible (host stats, the host's CPU clock, containers' network counters); in a container, mount the host's /proc and point here.",
    default: "/proc",
    pattern: /^\/\S*$/,
    patternText: "an absolute path",
  }),
  ...runtimeCollectorEnv,
  CROWSNEST_PUBLISH_BUFFER_MAX: envInteger({
    description:
      "Most messages kept while the bus does not take them (about 1 KB each); beyond it the oldest are dropped and counted.",
    default: 100_000,
    min: 100,
    max: 10_000_000,
  }),
  CROWSNEST_PUBLISH_MAX_IN_FLIGHT: envInteger({
    description: "Most publishes awaiting their JetStream acknowledgement at once.",
    default: 256,
    min: 1,
    max: 10_000,
  }),
  CROWSNEST_PUBLISH_BATCH_DELAY_MS: envInteger({
    description:
      "How long the publish queue waits for more samples before it sends what it holds in one write. Samples read through the Docker API arrive one by one: a few milliseconds make them one write instead of many (a tick's samples read together are sent at once regardless).",
    default: 10,
    min: 0,
    max: 1000,
  }),
} as const;

export type CollectorConfig = CollectorTarget & {
  common: CommonConfig;
  /** Undefined: use the host name the runtime reports (or the Kubernetes node name). */
  hostName: string | undefined;
  collectIntervalMs: number;
  collectConcurrency: number;
  procRoot: string;
  publishBufferMax: number;
  publishMaxInFlight: number;
  publishBatchDelayMs: number;
};

/** Throws a ConfigError naming every bad variable. */
export function parseCollectorConfig(env: EnvSource): CollectorConfig {
  const values = parseEnv(collectorEnv, env);
  const target = runtimeConfigFrom(values);
  return {
    common: commonConfigFrom(values),
    hostName: target.hostName,
    ...collectorTargetFrom(values, target),
    collectIntervalMs: values.CROWSNEST_COLLECT_INTERVAL_MS,
    collectConcurrency: values.CROWSNEST_COLLECT_CONCURRENCY,
    procRoot: values.CROWSNEST_PROC_ROOT,
    publishBufferMax: values.CROWSNEST_PUBLISH_BUFFER_MAX,
    publishMaxInFlight: values.CROWSNEST_PUBLISH_MAX_IN_FLIGHT,
    publishBatchDelayMs: values.CROWSNEST_PUBLISH_BATCH_DELAY_MS,
  };
}

export function readConfig(): CollectorConfig {
  return parseCollectorConfig(process.env);
}
