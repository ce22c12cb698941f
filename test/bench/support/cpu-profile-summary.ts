// Where a V8 CPU profile (`node --cpu-prof`) spent its time: self time per function over the
// samples taken after a given moment (so start-up is left out), heaviest first.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds, on the profiler's own clock. */
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

export interface SelfTimeRow {
  function: string;
  where: string;
  selfMs: number;
}

export interface ProfileSummary {
  /** Wall time the summary covers. */
  coveredMs: number;
  /** Samples in a function (not idle, not the profiler's own bookkeeping). */
  busyMs: number;
  /** Of busyMs: the engine's own work, attributed to no JavaScript function. */
  programMs: number;
  garbageCollectorMs: number;
  rows: SelfTimeRow[];
}

const SPECIAL = new Set(["(root)", "(idle)", "(program)", "(garbage collector)"]);

/** Self time per function over the samples from `skipMs` after the profile's start on. */
export function summarizeCpuProfile(profileJson: string, skipMs: number): ProfileSummary {
  const profile = JSON.parse(profileJson) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let atUs = profile.startTime;
  const fromUs = profile.startTime + skipMs * 1000;
  for (const [index, nodeId] of profile.samples.entries()) {
    // A sample stands for the time up to the next one.
    const durationUs = profile.timeDeltas[index + 1] ?? 0;
    atUs += profile.timeDeltas[index] ?? 0;
    if (atUs < fromUs) continue;
    selfUs.set(nodeId, (selfUs.get(nodeId) ?? 0) + durationUs);
  }
  const byFunction = new Map<string, SelfTimeRow>();
  let programUs = 0;
  let collectorUs = 0;
  let busyUs = 0;
  for (const [nodeId, us] of selfUs) {
    const frame = nodes.get(nodeId)?.callFrame;
    if (frame === undefined) continue;
    const name = frame.functionName || "(anonymous)";
    if (name === "(program)") programUs += us;
    if (name === "(garbage collector)") collectorUs += us;
    if (name === "(idle)" || name === "(root)") continue;
    busyUs += us;
    if (SPECIAL.has(name)) continue;
    const where = `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${name} ${where}`;
    const row = byFunction.get(key) ?? { function: name, where, selfMs: 0 };
    row.selfMs += us / 1000;
    byFunction.set(key, row);
  }
  return {
    coveredMs: Math.max(0, profile.endTime - Math.max(fromUs, profile.startTime)) / 1000,
    busyMs: busyUs / 1000,
    programMs: programUs / 1000,
    garbageCollectorMs: collectorUs / 1000,
    rows: [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** The part of a module URL that names it: the package and file, not the machine's paths. */
function shortUrl(url: string): string {
  if (url === "") return "(native)";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0)
    return url.slice(modules + "/node_modules/".length).replace(/^\.pnpm\/[^/]+\/node_modules\//, "");
  const source = url.search(/\/(collector|watcher|shared)\/src\//);
  return source >= 0 ? url.slice(source + 1) : url.replace(/^file:\/\//, "");
}
