// How the CRI runtime finds a container named in an inspect or logs request, from the status
// cache (current within one poll): by its bus id `namespace/pod/container`, by `pod/container`
// when only one namespace has it, or by a CRI container id (or a unique prefix of one), which
// names one run. The answer is the pod container's newest run, and the run before it where the
// runtime still keeps one (for `previous` logs). A container the cache does not know yet (made
// since the last poll) is waited for, bounded: the request waits for the cache to bring an entry
// newer than the request, and looks once more.
import type { RpcError } from "@crowsnest/shared/agent";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import { containerBusId, toContainerInfo } from "./cri-identity.ts";
import type { CriContainerRecord, CriStatusCache } from "./cri-status-cache.ts";

export interface CriRuns {
  readonly newest: CriContainerRecord;
  /** The newest run with a lower attempt, when the runtime still keeps one. */
  readonly previous: CriContainerRecord | undefined;
}

export type CriRunLookup = (reference: string) => Promise<CriRuns | RpcError>;

/** Shortest CRI id prefix taken as a reference (shorter ones too easily name another container). */
const MIN_ID_PREFIX = 6;

type CacheView = Pick<CriStatusCache, "polled" | "containers" | "getNewerThan">;

function findRuns(cache: CacheView, reference: string): CriRuns | RpcError {
  if (!cache.polled) return errorReply("runtime_unavailable", "the CRI runtime has not been listed yet");
  const runs = cache.containers();
  let busIds = new Set(runs.filter((run) => containerBusId(run) === reference).map(containerBusId));
  if (busIds.size === 0) {
    busIds = new Set(runs.filter((run) => `${run.podName}/${run.name}` === reference).map(containerBusId));
  }
  if (busIds.size === 0 && reference.length >= MIN_ID_PREFIX) {
    busIds = new Set(runs.filter((run) => run.id.startsWith(reference)).map(containerBusId));
  }
  if (busIds.size > 1) {
    return errorReply(
      "bad_request",
      `"${reference}" names ${busIds.size} containers; use namespace/pod/container`,
    );
  }
  const [busId] = busIds;
  if (busId === undefined) return errorReply("not_found", `no container "${reference}" on this node`);
  const ofContainer = runs
    .filter((run) => containerBusId(run) === busId)
    .sort((a, b) => b.attempt - a.attempt || (b.createdAtNano > a.createdAtNano ? 1 : -1));
  const [newest] = ofContainer;
  if (newest === undefined) return errorReply("not_found", `no container "${reference}" on this node`);
  return { newest, previous: ofContainer.find((run) => run.attempt < newest.attempt) };
}

/** `waitMs`: how long a reference nothing matches waits for the next changes (about two polls). */
export function createCriRunLookup(
  cache: CacheView,
  waitMs: number,
  now: () => number = Date.now,
): CriRunLookup {
  return async (reference) => {
    const askedAtMs = now();
    const found = findRuns(cache, reference);
    if (!("ok" in found) || found.error.code !== "not_found") return found;
    if ((await cache.getNewerThan(askedAtMs, waitMs)).length === 0) return found;
    return findRuns(cache, reference);
  };
}

export function createCriInspector(lookup: CriRunLookup, node: string): ContainerInspector {
  return async (reference) => {
    const found = await lookup(reference);
    return "ok" in found ? found : toContainerInfo(found.newest, node);
  };
}
