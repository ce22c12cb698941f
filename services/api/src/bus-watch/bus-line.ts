// One line of `crowsnest-bus` output per bus message: the message's time, its kind, whose it
// is, and what it says in a person's units. A message that does not decode (not JSON, or not
// the contract's schema) is shown as such with a short excerpt, never dropped and never fatal:
// the tool is for looking at the bus as it is, bad messages included.
import { codecs, type DecodeResult } from "@crowsnest/shared";

const MAX_EXCERPT = 200;
const KIND_WIDTH = 9;
const WHO_WIDTH = 28;

function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let scaled = value;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${unit === 0 ? String(Math.round(scaled)) : scaled.toFixed(1)} ${units[unit]}`;
}

const rate = (value: number | null | undefined) =>
  value === null || value === undefined ? "-" : `${bytes(value)}/s`;
const percent = (value: number | null | undefined) =>
  value === null || value === undefined ? "-" : `${value.toFixed(1)}%`;

/** `HH:MM:SS.mmm` of an RFC 3339 UTC timestamp, or of now. */
function clock(ts: string | undefined, nowMs: number): string {
  const parsed = ts === undefined ? Number.NaN : Date.parse(ts);
  return new Date(Number.isNaN(parsed) ? nowMs : parsed).toISOString().slice(11, 23);
}

function line(ts: string | undefined, kind: string, who: string, what: string, nowMs: number): string {
  return `${clock(ts, nowMs)}  ${kind.padEnd(KIND_WIDTH)} ${who.padEnd(WHO_WIDTH)} ${what}`.trimEnd();
}

function excerpt(data: Uint8Array): string {
  const text = new TextDecoder().decode(data.subarray(0, MAX_EXCERPT * 4)).replace(/\s+/g, " ");
  return text.length > MAX_EXCERPT ? `${text.slice(0, MAX_EXCERPT)}…` : text;
}

/** The family of a subject under `<prefix>.v1.`: stats, host, events, …; undefined when not under it. */
function familyOf(subject: string, root: string): string | undefined {
  if (!subject.startsWith(`${root}.`)) return undefined;
  return subject.slice(root.length + 1).split(".")[0];
}

function undecodable(subject: string, data: Uint8Array, failure: { detail: string }, nowMs: number): string {
  return line(undefined, "invalid", subject, `${failure.detail} — ${excerpt(data)}`, nowMs);
}

function shown<T>(
  result: DecodeResult<T>,
  subject: string,
  data: Uint8Array,
  nowMs: number,
  format: (message: T) => string,
): string {
  return result.ok ? format(result.value) : undecodable(subject, data, result, nowMs);
}

/** The line for one message on `subject`, whose contract root is `root` (`<prefix>.v1`). */
export function formatBusMessage(subject: string, data: Uint8Array, root: string, nowMs: number): string {
  switch (familyOf(subject, root)) {
    case "stats":
      return shown(codecs.stats.decode(data), subject, data, nowMs, (m) =>
        line(
          m.ts,
          "stats",
          `${m.host}/${m.container.name}`,
          [
            `cpu ${percent(m.cpu_percent)}`,
            `mem ${bytes(m.mem_used)}${m.mem_limit === null ? "" : ` / ${bytes(m.mem_limit)}`}`,
            `net ↓${rate(m.net_rx_bytes_per_s)} ↑${rate(m.net_tx_bytes_per_s)}`,
            `pids ${m.pids ?? "-"}`,
          ].join("  "),
          nowMs,
        ),
      );
    case "host":
      return shown(codecs.hostStats.decode(data), subject, data, nowMs, (m) =>
        line(
          m.ts,
          "host",
          m.host,
          `cpu ${percent(m.cpu_percent)}  mem ${bytes(m.mem_used)} / ${bytes(m.mem_total)}  load ${m.load_1 ?? "-"}`,
          nowMs,
        ),
      );
    case "events":
      return shown(codecs.event.decode(data), subject, data, nowMs, (m) => {
        const details = [
          m.action,
          m.exit_code === null || m.exit_code === undefined ? "" : `exit ${m.exit_code}`,
          m.oom_killed === true ? "oom" : "",
          m.signal ? `signal ${m.signal}` : "",
          m.health_status ? m.health_status : "",
          m.synthesized ? "(synthesized)" : "",
        ];
        return line(m.ts, "event", `${m.host}/${m.actor.name}`, details.filter(Boolean).join("  "), nowMs);
      });
    case "inventory":
      return shown(codecs.inventory.decode(data), subject, data, nowMs, (m) =>
        line(
          m.ts,
          "inventory",
          `${m.host}/${m.runtime}`,
          `${m.containers.length} containers (${m.reason}, part ${m.part}/${m.parts})`,
          nowMs,
        ),
      );
    case "alerts":
      return shown(codecs.alertTransition.decode(data), subject, data, nowMs, (m) =>
        line(
          m.ts,
          "alert",
          `${m.host}/${m.container.name}`,
          `${m.metric} ${m.change}  value ${m.value ?? "-"}  threshold ${m.threshold ?? "-"}  ${m.previous_state} → ${m.new_state}`,
          nowMs,
        ),
      );
    case "agents":
      return shown(codecs.heartbeat.decode(data), subject, data, nowMs, (m) =>
        line(
          m.ts,
          "agent",
          `${m.host}/${m.service}`,
          [m.version, m.runtime, m.connected ? "connected" : "disconnected from its runtime or database"]
            .filter(Boolean)
            .join("  "),
          nowMs,
        ),
      );
    case "deadletter":
      return shown(codecs.deadletter.decode(data), subject, data, nowMs, (m) =>
        line(m.ts, "dead", m.service, `${m.reason} on ${m.subject}: ${m.detail}`, nowMs),
      );
    default:
      // Requests and replies (rpc, _INBOX) and anything else a wide subscription catches.
      return line(undefined, "other", subject, excerpt(data), nowMs);
  }
}
