// The contract's codecs for the requests the watcher is sent (logs, inspect), loaded with the
// first request: they are the zod schemas, and zod costs the watcher MBs for as long as it runs
// (docs/benchmarks.md), so a watcher nobody asks anything never loads it. What the watcher
// publishes, its replies included, is checked without zod (@crowsnest/shared/agent).
import type { codecs } from "@crowsnest/shared/codec";

export type RequestCodecs = Pick<typeof codecs, "logsRequest" | "inspectRequest">;

let loading: Promise<RequestCodecs> | undefined;

export function requestCodecs(): Promise<RequestCodecs> {
  loading ??= import("@crowsnest/shared/codec").then((loaded) => loaded.codecs);
  return loading;
}
