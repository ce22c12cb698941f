// Asks a host's watcher to inspect a container over `<prefix>.v1.rpc.<host>.inspect`: what the
// runtime says about it now (state, restart count, pid, health, limits), not what the store
// last recorded. Every way it can go wrong comes back as a typed failure: no watcher
// listening, no answer in time, a reply that does not decode, or the watcher's own error.
import { type ContainerInfo, codecs, type Subjects } from "@crowsnest/shared";
import type { NatsConnection } from "@nats-io/transport-node";

export type InspectOutcome =
  | { ok: true; container: ContainerInfo }
  | {
      ok: false;
      code: "watcher_unavailable" | "not_found" | "bad_request" | "runtime_unavailable";
      message: string;
    };

export type InspectFailure = Extract<InspectOutcome, { ok: false }>;

export interface InspectClient {
  /** `container`: the runtime's id (or a name or id prefix, as the watcher resolves them). */
  inspect(host: string, container: string): Promise<InspectOutcome>;
}

/** The subset of a NATS connection this needs. */
export type InspectTransport = Pick<NatsConnection, "request">;

export function createInspectClient(options: {
  nc: InspectTransport;
  subjects: Subjects;
  timeoutMs: number;
}): InspectClient {
  const { nc, subjects } = options;
  return {
    async inspect(host, container) {
      const request = codecs.inspectRequest.encode({ v: 1, container });
      if (!request.ok) return { ok: false, code: "bad_request", message: request.detail };
      let data: Uint8Array;
      try {
        data = (await nc.request(subjects.rpc(host, "inspect"), request.data, { timeout: options.timeoutMs }))
          .data;
      } catch {
        // No responders and a timeout alike: nobody answers for this host now.
        return watcherUnavailable(host, "is not answering");
      }
      const decoded = codecs.inspectReply.decode(data);
      if (!decoded.ok) return watcherUnavailable(host, `sent a reply that is not valid: ${decoded.detail}`);
      if (!decoded.value.ok) {
        const { code, message } = decoded.value.error;
        // `logs_unavailable` answers log requests only; from an inspection it is the watcher's fault.
        const failure = code === "internal" || code === "logs_unavailable" ? "runtime_unavailable" : code;
        return { ok: false, code: failure, message };
      }
      return { ok: true, container: decoded.value.container };
    },
  };
}

export function watcherUnavailable(host: string, why: string): InspectFailure {
  return { ok: false, code: "watcher_unavailable", message: `the watcher of host "${host}" ${why}` };
}
