// Which containerd namespaces a containerd host reports: the ones CROWSNEST_CONTAINERD_NAMESPACES
// names, else every namespace but those other runtimes report (Docker's `moby`, the CRI's
// `k8s.io`). Decided per namespace, so a namespace made after the watcher started is followed.
import { DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES } from "@crowsnest/shared/agent";

export interface NamespaceSelection {
  /** Whether the containers (and events) of this namespace are reported. */
  includes(namespace: string): boolean;
  /** The event service's filters for the same selection (several are ORed; a filter's selectors ANDed). */
  readonly subscribeFilters: readonly string[];
  /** A namespace the filters let through, where the subscription probe is published. */
  readonly probeNamespace: string;
}

export function namespaceSelection(configured: readonly string[] | undefined): NamespaceSelection {
  if (configured !== undefined) {
    const named = new Set(configured);
    return {
      includes: (namespace) => named.has(namespace),
      subscribeFilters: configured.map((namespace) => `namespace==${namespace}`),
      probeNamespace: configured[0] ?? "default",
    };
  }
  const excluded = new Set(DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES);
  return {
    includes: (namespace) => !excluded.has(namespace),
    subscribeFilters: [
      DEFAULT_EXCLUDED_CONTAINERD_NAMESPACES.map((namespace) => `namespace!=${namespace}`).join(","),
    ],
    probeNamespace: "default",
  };
}
