// The hand-written stats check against the contract's zod schema, on generated valid messages
// and on every field of them mutated to values at and across each constraint's edges: both
// must accept and refuse the same messages, and what is accepted must be what the schema
// returns.

import { describe, expect, it } from "vitest";
import { mutated, mutations, validMessage } from "../../../../test/support/stats-message-variants.ts";
import { statsMessage } from "../messages/stats-message.ts";
import { isStatsMessage } from "./stats-quick-check.ts";

/** The fields of the contract (the schema drops unknown keys; the store reads only these). */
function stored(value: unknown) {
  const message = value as Record<string, unknown>;
  const container = message.container as Record<string, unknown>;
  return {
    ...Object.fromEntries(Object.keys(statsMessage.shape).map((key) => [key, message[key]])),
    container: { external_id: container.external_id, name: container.name },
  };
}

describe("isStatsMessage", () => {
  it("accepts and refuses exactly what the zod schema does, with the same values", () => {
    let accepted = 0;
    let refused = 0;
    for (let round = 0; round < 100; round++) {
      const message = validMessage();
      const candidates = [
        { path: "(valid)", value: message as unknown },
        // What the decoder sees: the message after a JSON round trip.
        { path: "(json)", value: JSON.parse(JSON.stringify(message)) as unknown },
        ...mutations(message).map(({ path, value }) => ({ path, value: mutated(message, path, value) })),
      ];
      for (const { path, value } of candidates) {
        const schema = statsMessage.safeParse(value);
        const fast = isStatsMessage(value);
        if (fast !== schema.success) {
          expect.fail(`${path}: check ${fast}, schema ${schema.success} for ${JSON.stringify(value)}`);
        }
        if (schema.success) {
          expect(stored(value)).toEqual(stored(schema.data));
          accepted += 1;
        } else refused += 1;
      }
    }
    // Both sides of the comparison were exercised, many times.
    expect(accepted).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(20_000);
  }, 60_000);
});
