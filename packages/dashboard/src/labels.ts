// Label selectors as the api takes them (`key=value,key!=value,key`), matched in the browser so
// the overview filters as one types; and the Kubernetes context Crowsnest reads from labels.

type Requirement = { key: string; op: "=" | "!=" | "exists" | "!exists"; value?: string };

export function parseSelector(selector: string): Requirement[] | undefined {
  const requirements: Requirement[] = [];
  for (const raw of selector
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^(!?)([^=!\s]+)\s*(?:(!=|==|=)\s*(.*))?$/.exec(raw);
    if (!match?.[2]) return undefined;
    const [, not, key, op, value] = match;
    if (op === undefined) requirements.push({ key, op: not ? "!exists" : "exists" });
    else if (not) return undefined;
    else requirements.push({ key, op: op === "!=" ? "!=" : "=", value: value ?? "" });
  }
  return requirements;
}

export function matchesSelector(labels: Record<string, string>, requirements: Requirement[]): boolean {
  return requirements.every((requirement) => {
    const value = labels[requirement.key];
    if (requirement.op === "=") return value === requirement.value;
    if (requirement.op === "!=") return value !== requirement.value;
    return requirement.op === "exists" ? value !== undefined : value === undefined;
  });
}

export const namespaceOf = (labels: Record<string, string>): string | undefined =>
  labels["io.kubernetes.pod.namespace"];
export const podOf = (labels: Record<string, string>): string | undefined => labels["io.kubernetes.pod.name"];
