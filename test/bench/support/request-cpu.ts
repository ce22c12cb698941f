// CPU a server and its Postgres backends spent while a load ran, from /proc: on a machine busy
// with other work, requests per second measure the CPU a run happened to get, while CPU per
// request measures what each request costs, whatever else runs. Postgres' backends are found in
// pg_stat_activity every 100 ms: every client backend of the database and their parallel
// workers (not autovacuum, which a freshly loaded database keeps busy at times), so a run must
// start once the others' queries are done (api.bench.ts waits for Postgres to be idle). A backend that starts
// during the run counts from zero; a parallel worker that lives under 100 ms may be missed (the
// raw baseline's cost is then understated, never the api's).
import { readFileSync } from "node:fs";
import type pg from "pg";

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU in ticks of 10 ms. */
const TICK_MS = 10;
const POLL_MS = 100;

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined; // ended meanwhile
  }
}

export interface RequestCpu {
  serverMs: number;
  postgresMs: number;
}

/** Starts counting; the returned function stops and gives the CPU spent since. */
export function meterCpu(admin: pg.Client, database: string, serverPid: number): () => Promise<RequestCpu> {
  const serverStart = cpuTicks(serverPid) ?? 0;
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  const poll = async () => {
    const backends = await admin.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type IN ('client backend', 'parallel worker')",
      [database],
    );
    for (const { pid } of backends.rows) {
      const ticks = cpuTicks(pid);
      if (ticks === undefined) continue;
      // Backends there at the start count from where they were; later ones were born during the run.
      if (!first.has(pid)) first.set(pid, started ? 0 : ticks);
      last.set(pid, ticks);
    }
  };
  let polling = poll().then(() => {
    started = true;
  });
  const timer = setInterval(() => {
    polling = polling.then(poll);
  }, POLL_MS);
  return async () => {
    clearInterval(timer);
    await polling;
    await poll();
    let postgresTicks = 0;
    for (const [pid, ticks] of last) postgresTicks += ticks - (first.get(pid) ?? ticks);
    return {
      serverMs: ((cpuTicks(serverPid) ?? serverStart) - serverStart) * TICK_MS,
      postgresMs: postgresTicks * TICK_MS,
    };
  };
}
