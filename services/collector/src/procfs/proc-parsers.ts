// Parsers for the kernel's text files the collector reads: /proc/stat, /proc/meminfo,
// /proc/loadavg, /proc/uptime, /proc/<pid>/net/dev, and the cgroup v1/v2 stat files. Pure and
// total: a file that is not what the kernel writes gives null (or undefined) for the values it
// should have held, never an exception and never a made-up number.

/** The kernel's USER_HZ: /proc/stat counts in 1/100 s on every mainstream architecture. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** A non-negative integer written in decimal, or null. */
export function decimalCounter(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  return Number(text);
}

/** The aggregate `cpu` line of /proc/stat, and how many CPUs are online. */
export interface ProcStatCpu {
  /** user, nice, system, idle, iowait, irq, softirq, steal (missing trailing fields are 0). */
  readonly ticks: readonly number[];
  readonly onlineCpus: number;
}

export function parseProcStat(text: string): ProcStatCpu | undefined {
  let ticks: number[] | undefined;
  let onlineCpus = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) {
      // The cpu lines come first; everything after them (intr, ctxt, ...) is of no use here.
      if (ticks !== undefined) break;
      continue;
    }
    if (line.startsWith("cpu ")) {
      const fields = line.slice(4).trim().split(/\s+/);
      // Kernels since 2.6.11 write at least eight fields; fewer is not a /proc/stat we know.
      if (fields.length < 7) return undefined;
      const parsed = fields.slice(0, 8).map(decimalCounter);
      if (parsed.some((value) => value === null)) return undefined;
      ticks = parsed as number[];
      while (ticks.length < 8) ticks.push(0);
    } else if (/^cpu\d+ /.test(line)) {
      onlineCpus += 1;
    }
  }
  if (ticks === undefined || onlineCpus === 0) return undefined;
  return { ticks, onlineCpus };
}

/**
 * The host's CPU time as dockerd reports it in `system_cpu_usage`: the first seven fields of the
 * `cpu` line (user to softirq, not steal) in nanoseconds. Using the very same sum is what makes
 * CPU percentages from files and from the API the same numbers.
 */
export function dockerSystemCpuNs(cpu: ProcStatCpu): number {
  let ticks = 0;
  for (let i = 0; i < 7; i++) ticks += cpu.ticks[i] ?? 0;
  return ticks * (1e9 / CLOCK_TICKS_PER_SECOND);
}

/** Busy and total CPU time of the host, in ticks: idle and iowait are idle, steal is not the guest's. */
export function hostCpuTicks(cpu: ProcStatCpu): { busy: number; total: number } {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu.ticks;
  // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** /proc/meminfo, values in bytes (the file says kB and means KiB). */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)( kB)?$/.exec(line.trim());
    if (!match) continue;
    const [, key = "", amount = "", unit] = match;
    values.set(key, Number(amount) * (unit === undefined ? 1 : 1024));
  }
  return values;
}

/** The three load averages of /proc/loadavg. */
export function parseLoadavg(text: string): [number, number, number] | undefined {
  const fields = text.trim().split(/\s+/).slice(0, 3).map(nonNegativeDecimal);
  const [l1, l5, l15] = fields;
  if (
    l1 === null ||
    l5 === null ||
    l15 === null ||
    l1 === undefined ||
    l5 === undefined ||
    l15 === undefined
  ) {
    return undefined;
  }
  return [l1, l5, l15];
}

/** Seconds since boot, the first field of /proc/uptime. */
export function parseUptime(text: string): number | undefined {
  return nonNegativeDecimal(text.trim().split(/\s+/)[0]) ?? undefined;
}

function nonNegativeDecimal(text: string | undefined): number | null {
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return null;
  return Number(text);
}

// The files read for every container every tick are parsed where they were read, from the bytes
// (kernel-file.ts's readBytes): no string of the file, no array of its lines or fields. Each
// function takes the content as `bytes[0, length)` and means what the same code on the text
// would (`line.trim()`, `split(/\s+/)`, decimalCounter), which the tests hold it to.

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const EQUALS = 0x3d;
const DIGIT_0 = 0x30;

/** What String.prototype.trim and `\s` take for white space, among the bytes of a latin1 text. */
function isSpace(byte: number): boolean {
  return byte === SPACE || (byte >= 0x09 && byte <= 0x0d) || byte === 0xa0;
}

function isDigit(byte: number): boolean {
  return byte >= DIGIT_0 && byte <= DIGIT_0 + 9;
}

/** decimalCounter of bytes[start, end): a non-negative integer written in decimal, or null. */
export function counterAt(bytes: Buffer, start: number, end: number): number | null {
  if (start >= end) return null;
  let value = 0;
  for (let at = start; at < end; at++) {
    const byte = bytes[at] ?? 0;
    if (!isDigit(byte)) return null;
    value = value * 10 + (byte - DIGIT_0);
  }
  // Up to 15 digits every step above is exact; a longer number is rounded as Number() rounds it.
  return end - start <= 15 ? value : Number(bytes.toString("latin1", start, end));
}

/** The end of the line that starts at `start`: its newline, or `length`. */
function lineEnd(bytes: Buffer, start: number, length: number): number {
  let at = start;
  while (at < length && bytes[at] !== NEWLINE) at++;
  return at;
}

/** decimalCounter of bytes[start, end) with white space trimmed at both ends. */
function trimmedCounter(bytes: Buffer, start: number, end: number): number | null {
  let from = start;
  let to = end;
  while (from < to && isSpace(bytes[from] ?? 0)) from++;
  while (to > from && isSpace(bytes[to - 1] ?? 0)) to--;
  return counterAt(bytes, from, to);
}

/** Whether bytes[start, end) is `<digits>:<digits>`, a device number. */
function isDevice(bytes: Buffer, start: number, end: number): boolean {
  let colon = start;
  while (colon < end && isDigit(bytes[colon] ?? 0)) colon++;
  if (colon === start || colon >= end - 1 || bytes[colon] !== COLON) return false;
  for (let at = colon + 1; at < end; at++) if (!isDigit(bytes[at] ?? 0)) return false;
  return true;
}

/** Whether bytes[start, end) holds exactly the ASCII text `word`. */
function isWord(bytes: Buffer, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let at = 0; at < word.length; at++) if (bytes[start + at] !== word.charCodeAt(at)) return false;
  return true;
}

/**
 * Received and sent bytes of every interface in /proc/<pid>/net/dev except the loopback, summed
 * as dockerd sums its sandbox's interfaces. Null when there is no such interface (a container
 * with `--network none` has only `lo`): no network figures, not zero traffic.
 */
export function parseNetDev(
  bytes: Buffer,
  length: number,
): { rxBytes: number; txBytes: number } | null | undefined {
  let rxBytes = 0;
  let txBytes = 0;
  let interfaces = 0;
  for (let start = 0; start <= length; ) {
    const end = lineEnd(bytes, start, length);
    const next = end + 1;
    let colon = start;
    while (colon < end && bytes[colon] !== COLON) colon++;
    // The two header lines use `|`, not `:`.
    if (colon === end) {
      start = next;
      continue;
    }
    let nameStart = start;
    let nameEnd = colon;
    while (nameStart < nameEnd && isSpace(bytes[nameStart] ?? 0)) nameStart++;
    while (nameEnd > nameStart && isSpace(bytes[nameEnd - 1] ?? 0)) nameEnd--;
    if (isWord(bytes, nameStart, nameEnd, "lo")) {
      start = next;
      continue;
    }
    // Fields 0 (received bytes) and 8 (sent bytes) of the white-space separated rest.
    let rx: number | null = null;
    let tx: number | null = null;
    let field = 0;
    let at = colon + 1;
    while (at < end && isSpace(bytes[at] ?? 0)) at++;
    while (at < end && field <= 8) {
      const fieldStart = at;
      while (at < end && !isSpace(bytes[at] ?? 0)) at++;
      if (field === 0) rx = counterAt(bytes, fieldStart, at);
      else if (field === 8) tx = counterAt(bytes, fieldStart, at);
      field++;
      while (at < end && isSpace(bytes[at] ?? 0)) at++;
    }
    if (rx === null || tx === null) return undefined;
    rxBytes += rx;
    txBytes += tx;
    interfaces += 1;
    start = next;
  }
  return interfaces === 0 ? null : { rxBytes, txBytes };
}

/** `\n<key> ` for each key looked up, made once. */
const keyNeedles = new Map<string, Buffer>();

/**
 * The value of `key` in a flat keyed file (`memory.stat`, `cpu.stat`: one `key value` per line),
 * or null when the key is absent or its value is not a counter. Looks the one key up instead of
 * reading every line: these files are read for every container every tick.
 */
export function keyedValue(bytes: Buffer, length: number, key: string): number | null {
  const start = keyValueStart(bytes, length, key);
  return start < 0 ? null : trimmedCounter(bytes, start, lineEnd(bytes, start, length));
}

/** keyedValue, but undefined when no line has the key (null: its value is not a counter): one search for both. */
export function keyedValueIfPresent(bytes: Buffer, length: number, key: string): number | null | undefined {
  const start = keyValueStart(bytes, length, key);
  return start < 0 ? undefined : trimmedCounter(bytes, start, lineEnd(bytes, start, length));
}

/** Where the value of `key`'s line starts (after `<key> `), or -1 when no line has the key. */
function keyValueStart(bytes: Buffer, length: number, key: string): number {
  let needle = keyNeedles.get(key);
  if (needle === undefined) {
    needle = Buffer.from(`\n${key} `, "latin1");
    keyNeedles.set(key, needle);
  }
  // On the first line, without the newline before it.
  if (length >= needle.length - 1) {
    let at = 1;
    while (at < needle.length && bytes[at - 1] === needle[at]) at++;
    if (at === needle.length) return needle.length - 1;
  }
  // The buffer holds older files' bytes past `length`: the first match counts only if it lies
  // within the content (a later one cannot, once the first reaches past it).
  const found = bytes.indexOf(needle);
  return found >= 0 && found + needle.length <= length ? found + needle.length : -1;
}

/** One integer file such as `cpuacct.usage`, `memory.current` or `pids.current`. */
export function singleCounter(bytes: Buffer, length: number): number | null {
  return trimmedCounter(bytes, 0, length);
}

export interface BlockTotals {
  readBytes: number;
  writeBytes: number;
}

/**
 * A cgroup v1 blkio file (`8:0 Read 4096` lines and a `Total` line): the Read and Write lines of
 * every device summed, as the engine sums the entries it reports. Undefined when a line is not
 * of that shape; an empty file (no I/O yet) is a real 0.
 */
export function parseBlkioV1(bytes: Buffer, length: number): BlockTotals | undefined {
  let readBytes = 0;
  let writeBytes = 0;
  for (let start = 0; start < length; ) {
    const end = lineEnd(bytes, start, length);
    const next = end + 1;
    if (end === start) {
      start = next;
      continue;
    }
    // Fields separated by single spaces: the first two spaces, and whether there is a third.
    let first = start;
    while (first < end && bytes[first] !== SPACE) first++;
    let second = first + 1;
    while (second < end && bytes[second] !== SPACE) second++;
    let third = second + 1;
    while (third < end && bytes[third] !== SPACE) third++;
    const fields = first >= end ? 1 : second >= end ? 2 : third >= end ? 3 : 4;
    if (fields === 2 && isWord(bytes, start, first, "Total")) {
      start = next;
      continue;
    }
    if (fields !== 3 || !isDevice(bytes, start, first)) return undefined;
    const value = counterAt(bytes, second + 1, end);
    if (value === null) return undefined;
    if (isWord(bytes, first + 1, second, "Read")) readBytes += value;
    else if (isWord(bytes, first + 1, second, "Write")) writeBytes += value;
    start = next;
  }
  return { readBytes, writeBytes };
}

/**
 * Whether a v1 blkio file lists any device (the engine skips CFQ files that list none): a line
 * that starts with `<digits>:<digits> ` (a line as `/^…/m` has it: after `\n` or `\r`).
 */
export function blkioHasDevices(bytes: Buffer, length: number): boolean {
  for (let start = 0; start < length; ) {
    let end = start;
    while (end < length && bytes[end] !== NEWLINE && bytes[end] !== CARRIAGE_RETURN) end++;
    let space = start;
    while (space < end && bytes[space] !== SPACE) space++;
    if (space < end && isDevice(bytes, start, space)) return true;
    start = end + 1;
  }
  return false;
}

/** cgroup v2 `io.stat` (`259:0 rbytes=… wbytes=… rios=…` per device): rbytes and wbytes summed. */
export function parseIoStatV2(bytes: Buffer, length: number): BlockTotals | undefined {
  let readBytes = 0;
  let writeBytes = 0;
  for (let start = 0; start < length; ) {
    const end = lineEnd(bytes, start, length);
    const next = end + 1;
    let at = start;
    while (at < end && isSpace(bytes[at] ?? 0)) at++;
    if (at === end) {
      start = next;
      continue;
    }
    const deviceStart = at;
    while (at < end && !isSpace(bytes[at] ?? 0)) at++;
    if (!isDevice(bytes, deviceStart, at)) return undefined;
    while (at < end) {
      while (at < end && isSpace(bytes[at] ?? 0)) at++;
      if (at === end) break;
      const pairStart = at;
      while (at < end && !isSpace(bytes[at] ?? 0)) at++;
      // `key=value`: the value runs to the next `=` or the end of the pair, as split("=") has it.
      let equals = pairStart;
      while (equals < at && bytes[equals] !== EQUALS) equals++;
      const isRead = isWord(bytes, pairStart, equals, "rbytes");
      if (!isRead && !isWord(bytes, pairStart, equals, "wbytes")) continue;
      if (equals === at) return undefined;
      let valueEnd = equals + 1;
      while (valueEnd < at && bytes[valueEnd] !== EQUALS) valueEnd++;
      const value = counterAt(bytes, equals + 1, valueEnd);
      if (value === null) return undefined;
      if (isRead) readBytes += value;
      else writeBytes += value;
    }
    start = next;
  }
  return { readBytes, writeBytes };
}
