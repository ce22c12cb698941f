// Every container a host has now: `<prefix>.v1.inventory.<host>.<runtime>`.
import { z } from "zod";
import { hostName, runtime, schemaVersion, timestamp } from "./common.ts";
import { containerInfo } from "./container-info.ts";
import { INVENTORY_REASONS } from "./contract-values.ts";

export const inventoryMessage = z.object({
  v: schemaVersion,
  host: hostName,
  runtime,
  ts: timestamp,
  reason: z.enum(INVENTORY_REASONS),
  snapshot_id: z
    .string()
    .min(1)
    .max(128)
    .describe(
      "One snapshot may be split into parts so each fits the server's max payload; a consumer has the whole inventory when it has parts 1..parts of one snapshot_id.",
    ),
  part: z.number().int().positive(),
  parts: z.number().int().positive(),
  containers: z.array(containerInfo),
});
export type InventoryMessage = z.infer<typeof inventoryMessage>;
