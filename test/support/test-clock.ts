// Test timestamps relative to now. A fixed date ages out of the store's retention (raw samples
// 7 d, events 30 d): a store under test would then refuse or drop what the test published. Tests
// that feed a store running on the real clock build their times from these instead.
const DAY_MS = 86_400_000;

/** Midnight (UTC) of yesterday, in ms: inside every retention, and every hour of it a closed bucket. */
export const TEST_DAY_MS = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;

/** Yesterday (UTC) as `YYYY-MM-DD`. */
export const TEST_DAY = new Date(TEST_DAY_MS).toISOString().slice(0, 10);

/** A contract timestamp on TEST_DAY, e.g. `testTime("10:00:00.000")`. */
export function testTime(timeOfDay: string): string {
  return `${TEST_DAY}T${timeOfDay}Z`;
}
