// Building blocks shared by the message schemas of the bus contract.
import { z } from "zod";
import { RUNTIMES } from "../runtime/runtimes.ts";
import { EPOCH_NANOS_PATTERN, SCHEMA_VERSION } from "./contract-values.ts";

export { SCHEMA_VERSION, toTimestamp } from "./contract-values.ts";
export const schemaVersion = z
  .literal(SCHEMA_VERSION)
  .describe("The contract version: 1 in every message of v1, where fields are only ever added.");

export const timestamp = z.iso
  .datetime({ precision: 3 })
  .describe("RFC 3339 time in UTC with exactly three decimals, e.g. 2026-11-21T20:15:00.123Z.");

export const epochNanos = z
  .string()
  .regex(EPOCH_NANOS_PATTERN, "expected decimal nanoseconds since the epoch")
  .describe("Nanoseconds since the Unix epoch as a decimal string (a JSON number cannot hold it exactly).");

export const runtime = z.enum(RUNTIMES).describe("The container runtime of the host.");
export type { Runtime } from "../runtime/runtimes.ts";

export const hostName = z
  .string()
  .min(1)
  .max(253)
  .describe("The host's name, raw (its subject token is encoded).");

export const containerRef = z.object({
  external_id: z
    .string()
    .min(1)
    .max(512)
    .describe("The runtime's own id: Docker's container id, or `namespace/pod/container` on Kubernetes."),
  name: z.string().max(512).describe("Human name at the time of the message, without Docker's leading `/`."),
});
export type ContainerRef = z.infer<typeof containerRef>;

export const byteCount = z.number().int().nonnegative().describe("Bytes.");
export const bytesPerSecond = z.number().nonnegative().describe("Bytes per second over the interval.");
export const labels = z.record(z.string(), z.string());
