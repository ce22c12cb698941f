// The container runtimes Crowsnest reads: the one list that the message schema, the services'
// configuration, the stats quick check and the store's byte scanner all derive from, so a
// runtime added here is accepted everywhere at once (and nowhere falls onto a slow path).
export const RUNTIMES = ["docker", "kubernetes", "containerd", "cri"] as const;
export type Runtime = (typeof RUNTIMES)[number];

const runtimeNames: ReadonlySet<unknown> = new Set(RUNTIMES);

export function isRuntime(value: unknown): value is Runtime {
  return runtimeNames.has(value);
}
