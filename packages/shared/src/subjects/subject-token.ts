// Turns any host or container name into exactly one valid NATS subject token and back.
//
// NATS tokens may not contain `.`, `*`, `>` or whitespace, and must not be empty. We keep
// the characters every NATS client and ACL handles ([A-Za-z0-9_-]) as they are, so common
// names stay readable in subjects (`web-1`, `db_primary`), and write every other UTF-8 byte
// as `~XX` (upper-case hex). `~` itself is escaped, so decoding is unambiguous; the empty
// string becomes a lone `~`, which no encoding of a non-empty string produces.

const EMPTY_TOKEN = "~";
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function isPlainCharCode(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d || // -
    code === 0x5f // _
  );
}

export function encodeSubjectToken(raw: string): string {
  if (raw === "") return EMPTY_TOKEN;
  let plain = true;
  for (let i = 0; i < raw.length; i++) {
    if (!isPlainCharCode(raw.charCodeAt(i))) {
      plain = false;
      break;
    }
  }
  if (plain) return raw;
  let token = "";
  for (const byte of utf8Encoder.encode(raw)) {
    token += isPlainCharCode(byte)
      ? String.fromCharCode(byte)
      : `~${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return token;
}

/** The raw name for a token made by {@link encodeSubjectToken}; undefined when the token is not one. */
export function decodeSubjectToken(token: string): string | undefined {
  if (token === EMPTY_TOKEN) return "";
  if (token === "") return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (isPlainCharCode(code)) {
      bytes.push(code);
      continue;
    }
    if (code !== 0x7e) return undefined;
    const hex = token.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
    const byte = Number.parseInt(hex, 16);
    // An escaped plain character would give a second spelling of the same name.
    if (isPlainCharCode(byte)) return undefined;
    bytes.push(byte);
    i += 2;
  }
  try {
    return utf8Decoder.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}
