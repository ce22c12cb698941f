// What the containerd watcher knows of each container's name, image and labels, for events that
// carry only an id: filled by every look at the containers, by the events themselves, and for a
// container first met through an event, by one Containers.Get.
import type { Logger } from "@crowsnest/shared/agent";
import { type ContainerdClient, containerdContainerName } from "@crowsnest/shared/containerd";
import { withDeadline } from "@crowsnest/shared/util/call-deadline";
import type { KnownIdentity } from "./containerd-event-normalizer.ts";

export interface ContainerIdentities {
  get(namespace: string, id: string): KnownIdentity | undefined;
  /** Asks containerd for a container not known yet (once; a container gone meanwhile stays unknown). */
  ensure(namespace: string, id: string): Promise<void>;
  /** Everything a look at every container saw, replacing what was known. */
  replaceAll(entries: Iterable<[namespace: string, id: string, identity: KnownIdentity]>): void;
  /** A container's identity as an update event brings it. */
  set(namespace: string, id: string, identity: KnownIdentity): void;
  /** A removed container. */
  forget(namespace: string, id: string): void;
}

export interface ContainerIdentitiesOptions {
  client: Pick<ContainerdClient, "container">;
  logger: Logger;
  timeoutMs: number;
}

const key = (namespace: string, id: string): string => `${namespace}\u0000${id}`;

export function createContainerIdentities(options: ContainerIdentitiesOptions): ContainerIdentities {
  const { client, logger, timeoutMs } = options;
  let known = new Map<string, KnownIdentity>();
  return {
    get: (namespace, id) => known.get(key(namespace, id)),
    async ensure(namespace, id) {
      if (known.has(key(namespace, id))) return;
      try {
        const container = await withDeadline(`getting container ${id}`, timeoutMs, (signal) =>
          client.container(namespace, id, signal),
        );
        if (container === undefined) return;
        known.set(key(namespace, id), {
          name: containerdContainerName(container),
          image: container.image,
          labels: container.labels,
        });
      } catch (error) {
        logger.debug({ err: error, namespace, container_id: id }, "cannot get a container named by an event");
      }
    },
    replaceAll(entries) {
      known = new Map([...entries].map(([namespace, id, identity]) => [key(namespace, id), identity]));
    },
    set(namespace, id, identity) {
      known.set(key(namespace, id), identity);
    },
    forget(namespace, id) {
      known.delete(key(namespace, id));
    },
  };
}
