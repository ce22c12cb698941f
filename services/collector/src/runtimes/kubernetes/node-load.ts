// The node's load averages and uptime, which the kubelet's summary does not give but the host
// stats contract requires. /proc/loadavg and /proc/uptime are not namespaced: a collector pod on
// the node reads its node's kernel figures from its own /proc (CROWSNEST_PROC_ROOT), mounting
// nothing. Undefined when they cannot be read (e.g. a /proc virtualized by lxcfs with no file).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseLoadavg, parseUptime } from "../../procfs/proc-parsers.ts";
import type { NodeLoadReading } from "./node-host-sample.ts";

export function readNodeLoad(procRoot: string): NodeLoadReading | undefined {
  try {
    const load = parseLoadavg(readFileSync(join(procRoot, "loadavg"), "utf8"));
    const uptimeS = parseUptime(readFileSync(join(procRoot, "uptime"), "utf8"));
    return load === undefined || uptimeS === undefined ? undefined : { load, uptimeS };
  } catch {
    return undefined;
  }
}
