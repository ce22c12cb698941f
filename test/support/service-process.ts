// Runs a service exactly as it ships: its src/main.ts in a child Node process (Node's own
// TypeScript support, shared resolved to source), configured only through environment
// variables. Collects its JSON log lines so tests can wait for and assert on them.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export type ServiceName = "collector" | "watcher" | "store" | "api";

export interface LogRecord {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface ServiceProcess {
  readonly name: ServiceName;
  /** The Node process running the service, e.g. to read its memory from /proc/<pid>/status. */
  readonly pid: number;
  readonly logs: LogRecord[];
  /** Raw output lines that were not JSON (there should be none). */
  readonly otherOutput: string[];
  waitForLog(predicate: (record: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL at once, as a crash or an OOM kill would end it; resolves once it has exited. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export function startService(name: ServiceName, env: Record<string, string>): ServiceProcess {
  return startServiceCommand(
    name,
    {
      cwd: repoRoot,
      args: [
        "--conditions=crowsnest-source",
        "--disable-warning=ExperimentalWarning",
        `services/${name}/src/main.ts`,
      ],
    },
    env,
  );
}

/**
 * The service run by `node` with other arguments (e.g. its bundle with the V8 flags compose gives
 * it, as the image runs it), in `cwd`; otherwise as startService.
 */
export function startServiceCommand(
  name: ServiceName,
  command: { cwd: string; args: readonly string[] },
  env: Record<string, string>,
): ServiceProcess {
  const child: ChildProcess = spawn(process.execPath, [...command.args], {
    cwd: command.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogRecord[] = [];
  const otherOutput: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let pending = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        try {
          logs.push(JSON.parse(line) as LogRecord);
        } catch {
          otherOutput.push(line);
        }
      }
      for (const wake of waiters) wake();
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = once(child, "exit").then(([code]) => code as number | null);

  if (child.pid === undefined) throw new Error(`${name}: could not start ${process.execPath}`);
  return {
    name,
    pid: child.pid,
    logs,
    otherOutput,
    exited,
    async waitForLog(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = logs.find(predicate);
        if (found) return found;
        if (child.exitCode !== null) {
          throw new Error(`${name} exited with ${child.exitCode}; logs:\n${describe(logs, otherOutput)}`);
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0)
          throw new Error(`${name}: no matching log line; logs:\n${describe(logs, otherOutput)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(remaining, 500));
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters.clear();
      }
    },
    async stop(timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

function describe(logs: LogRecord[], other: string[]): string {
  return [...logs.slice(-40).map((record) => JSON.stringify(record)), ...other.slice(-20)].join("\n");
}
