// The identity of a running container as the container list gives it: id and display name.
import { field } from "@crowsnest/shared/util/json-fields";

export interface ContainerSummary {
  /** Docker's full container id. */
  id: string;
  /** The name without Docker's leading `/`. */
  name: string;
}

/** One entry of `GET /containers/json`, or undefined when the entry has no usable id. */
export function containerSummaryFrom(entry: unknown): ContainerSummary | undefined {
  const id = field(entry, "Id");
  if (typeof id !== "string" || id === "") return undefined;
  const names = field(entry, "Names");
  const candidates = Array.isArray(names)
    ? (names as readonly unknown[]).filter((name): name is string => typeof name === "string")
    : [];
  // Legacy links add aliases such as `/web/db` to the linked container's names; its own name is
  // the one with no further slash.
  const own = candidates.find((name) => name.lastIndexOf("/") === 0) ?? candidates[0] ?? "";
  return { id, name: own.startsWith("/") ? own.slice(1) : own };
}
