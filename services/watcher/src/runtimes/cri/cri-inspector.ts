// How the CRI runtime finds a container named in an inspect or logs request, from the status
// cache (current within one poll): by its bus id `namespace/pod/container`, by `pod/container`
// when only one namespace has it, or by a CRI container id (or a unique prefix of one), which
// names one run. The answer is the pod container's newest run, and the run before it where the
// runtime still keeps one (for `previous` logs).
import type { RpcError } from "@crowsnest/shared";
import type { ContainerInspector } from "../../rpc/inspect-responder.ts";
import { errorReply } from "../../rpc/rpc-replies.ts";
import { containerBusId, toContainerInfo } from "./cri-identity.ts";
import type { CriContainerRecord, CriStatusCache } from "./cri-status-cache.ts";

export interface CriRuns {
  readonly newest: CriContainerRecord;
  /** The newest run with a lower attempt, when the runtime still keeps one. */
  readonly previous: CriContainerRecord | undefined;
}

export type CriRunLookup = (reference: string) => CriRuns | RpcError;

/** Shortest CRI id prefix taken as a reference (shorter ones too easily name another container). */
const MIN_ID_PREFIX = 6;

export function createCriRunLookup(cache: Pick<CriStatusCache, "polled" | "containers">): CriRunLookup {
  return (reference) => {
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
  };
}

export function createCriInspector(lookup: CriRunLookup, node: string): ContainerInspector {
  return async (reference) => {
    const found = lookup(reference);
    return "ok" in found ? found : toContainerInfo(found.newest, node);
  };
}
