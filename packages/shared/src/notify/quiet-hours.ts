// Quiet hours of a route: a daily window, in a time zone, during which its messages are held
// and sent when the window ends (not dropped). A window may cross midnight (22:00 to 07:00).
import { z } from "zod";

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "expected HH:MM (24-hour)");

export const quietHoursSchema = z
  .object({
    start: clockTime,
    end: clockTime,
    time_zone: z.string().refine(isTimeZone, "expected an IANA time zone, e.g. Europe/Paris or UTC"),
  })
  .strict()
  .refine((q) => q.start !== q.end, "start and end must differ");
export type QuietHours = z.infer<typeof quietHoursSchema>;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Minutes since local midnight in `zone`, with fractions. */
function localMinutes(now: Date, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(now);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return part("hour") * 60 + part("minute") + (part("second") + now.getUTCMilliseconds() / 1000) / 60;
}

/**
 * When the quiet window containing `now` ends, or undefined when `now` is outside it. (A DST
 * change inside the window shifts the end by that hour; a message is then held an hour more or less.)
 */
export function quietUntil(quiet: QuietHours, now: Date): Date | undefined {
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  const local = localMinutes(now, quiet.time_zone);
  const inside = start < end ? local >= start && local < end : local >= start || local < end;
  if (!inside) return undefined;
  const waitMinutes = (end - local + 1440) % 1440;
  return new Date(now.getTime() + Math.ceil(waitMinutes * 60_000));
}
