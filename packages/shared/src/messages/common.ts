// Building blocks shared by the message schemas of the bus contract.
import { z } from "zod";

export const SCHEMA_VERSION = 1;
export const schemaVersion = z.literal(SCHEMA_VERSION);

/** RFC 3339, UTC, exactly millisecond precision: `2026-11-21T20:15:00.123Z`. */
export const timestamp = z.iso.datetime({ precision: 3 });

/** Nanoseconds since the Unix epoch as a decimal string (JSON numbers cannot hold it exactly). */
export const epochNanos = z.string().regex(/^\d{1,20}$/, "expected decimal nanoseconds since the epoch");

export const runtime = z.enum(["docker", "kubernetes"]);
export type Runtime = z.infer<typeof runtime>;

export const hostName = z.string().min(1).max(253);

export const containerRef = z.object({
  /** The runtime's own id: Docker's container id, or `namespace/pod/container` on Kubernetes. */
  external_id: z.string().min(1).max(512),
  /** Human name at the time of the message, without Docker's leading `/`. */
  name: z.string().max(512),
});
export type ContainerRef = z.infer<typeof containerRef>;

export const byteCount = z.number().int().nonnegative();
export const bytesPerSecond = z.number().nonnegative();
export const labels = z.record(z.string(), z.string());

/** Formats a Date the way every payload carries time. */
export function toTimestamp(date: Date): string {
  return date.toISOString();
}
