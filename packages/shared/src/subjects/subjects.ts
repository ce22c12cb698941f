// Builders for every subject of the bus contract (docs/bus-contract.md). All Crowsnest
// code gets subjects from here, so the contract lives in one place.
import { ConfigError } from "../errors/crowsnest-error.ts";
import { encodeSubjectToken } from "./subject-token.ts";

export const CONTRACT_VERSION = "v1";
export const DEFAULT_SUBJECT_PREFIX = "crowsnest";

export type ServiceName = "collector" | "watcher" | "store" | "api";
export type RpcMethod = "logs" | "inspect";

const PREFIX_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function isValidSubjectPrefix(prefix: string): boolean {
  return PREFIX_PATTERN.test(prefix);
}

/** A concrete name, or `*` to match any value of that token in a subscription. */
export type TokenFilter = string | { readonly any: true };
export const ANY: TokenFilter = { any: true };

function filterToken(filter: TokenFilter): string {
  return typeof filter === "string" ? encodeSubjectToken(filter) : "*";
}

export interface Subjects {
  readonly prefix: string;
  /** `<prefix>.v1`, the root of everything this contract version publishes. */
  readonly root: string;
  stats(host: TokenFilter, runtime: TokenFilter, container: TokenFilter): string;
  hostStats(host: TokenFilter): string;
  event(host: TokenFilter, runtime: TokenFilter, kind: TokenFilter, action: TokenFilter): string;
  inventory(host: TokenFilter, runtime: TokenFilter): string;
  alert(host: TokenFilter, container: TokenFilter): string;
  agent(host: TokenFilter, service: TokenFilter): string;
  rpc(host: TokenFilter, method: RpcMethod): string;
  deadletter(service: ServiceName): string;
  /** Everything under a family, for stream definitions and firehose subscribers. */
  all(family: "stats" | "host" | "events" | "inventory" | "alerts" | "agents" | "deadletter"): string;
}

export function createSubjects(prefix: string = DEFAULT_SUBJECT_PREFIX): Subjects {
  if (!isValidSubjectPrefix(prefix)) {
    throw new ConfigError(
      `subject prefix "${prefix}" must be dot-separated tokens of letters, digits, "-" and "_"`,
    );
  }
  const root = `${prefix}.${CONTRACT_VERSION}`;
  return {
    prefix,
    root,
    stats: (host, runtime, container) =>
      `${root}.stats.${filterToken(host)}.${filterToken(runtime)}.${filterToken(container)}`,
    hostStats: (host) => `${root}.host.${filterToken(host)}`,
    event: (host, runtime, kind, action) =>
      `${root}.events.${filterToken(host)}.${filterToken(runtime)}.${filterToken(kind)}.${filterToken(action)}`,
    inventory: (host, runtime) => `${root}.inventory.${filterToken(host)}.${filterToken(runtime)}`,
    alert: (host, container) => `${root}.alerts.${filterToken(host)}.${filterToken(container)}`,
    agent: (host, service) => `${root}.agents.${filterToken(host)}.${filterToken(service)}`,
    rpc: (host, method) => `${root}.rpc.${filterToken(host)}.${method}`,
    deadletter: (service) => `${root}.deadletter.${service}`,
    all: (family) => `${root}.${family}.>`,
  };
}
