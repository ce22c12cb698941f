// Checks how a requester names a container before it goes into a Docker API path: an id, a
// unique id prefix or a name, which are all letters, digits, `_`, `.` and `-` (a name may be
// given with Docker's leading `/`). Anything else (`../`, `?`, spaces) is a bad request, never
// a request to some other endpoint of dockerd.

const REFERENCE = /^\/?[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The reference as dockerd takes it, or undefined when it cannot name a container. */
export function containerReference(raw: string): string | undefined {
  const trimmed = raw.trim();
  if (!REFERENCE.test(trimmed)) return undefined;
  return trimmed.replace(/^\//, "");
}
