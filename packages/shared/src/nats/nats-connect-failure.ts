// Tells a first NATS connection that can never work (TLS or credentials set up wrong) from one
// that may work later (the server is not up yet, a DNS name not resolvable yet). The first kind
// stops the service with one fatal line that names the setting to fix; retrying would only hide
// it. The second kind is retried, because compose and Kubernetes start everything at once.
import { readFile } from "node:fs/promises";
import { connect as connectTcp, type Socket } from "node:net";
import { type ConnectionOptions, connect as connectTls, type TLSSocket } from "node:tls";
import { errors } from "@nats-io/transport-node";
import type { NatsTlsFiles } from "../config/common-env.ts";
import { NatsSetupError } from "../errors/crowsnest-error.ts";

/** Node's codes for a server certificate that its CA list does not vouch for. */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
]);

const EXPIRY_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

interface FailureContext {
  servers: readonly string[];
  tls: NatsTlsFiles | undefined;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function caSetting(tls: NatsTlsFiles | undefined): string {
  return tls?.caFile === undefined
    ? "the system's CAs (set CROWSNEST_NATS_TLS_CA_FILE to the CA that signed the servers' certificates)"
    : `the CA in CROWSNEST_NATS_TLS_CA_FILE (${tls.caFile})`;
}

/**
 * The permanent failure `error` (from the NATS client's first connection) stands for, or
 * undefined when it may be transient.
 */
export function permanentConnectFailure(error: unknown, context: FailureContext): NatsSetupError | undefined {
  const servers = context.servers.join(",");
  const detail = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  if (error instanceof errors.AuthorizationError || error instanceof errors.UserAuthenticationExpiredError) {
    return new NatsSetupError(
      "nats_auth",
      `NATS (${servers}) refused this service's credentials (${detail}): check CROWSNEST_NATS_USER and CROWSNEST_NATS_PASSWORD (or CROWSNEST_NATS_TOKEN) against the server's authorization`,
      { cause: error },
    );
  }
  if (code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return new NatsSetupError(
      "nats_tls",
      `the NATS server's certificate (${servers}) is not signed by ${caSetting(context.tls)} (${code}: ${detail})`,
      { cause: error },
    );
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new NatsSetupError(
      "nats_tls",
      `the NATS server's certificate does not name the host this service connects to (CROWSNEST_NATS_URL=${servers}; an IP address is checked as "localhost"): ${detail}`,
      { cause: error },
    );
  }
  if (code !== undefined && EXPIRY_CODES.has(code)) {
    return new NatsSetupError(
      "nats_tls",
      `the NATS server's certificate (${servers}) is outside its validity period (${code}): renew it`,
      { cause: error },
    );
  }
  if (code?.startsWith("ERR_SSL_")) return tlsHandshakeRefused(servers, code, detail, error);
  if (error instanceof errors.ConnectionError || error instanceof errors.InvalidArgumentError) {
    // The client's words for a TLS setting the server cannot meet, or a file it could not read.
    if (/does not support 'tls'|tls.*not available/i.test(detail)) {
      return new NatsSetupError(
        "nats_tls",
        `this service requires TLS (CROWSNEST_NATS_TLS_CA_FILE or a tls:// URL) but NATS (${servers}) does not offer it: ${detail}`,
        { cause: error },
      );
    }
    if (/doesn't exist|ENOENT|EACCES/.test(detail)) {
      return new NatsSetupError("nats_tls", `cannot read a NATS TLS file: ${detail}`, { cause: error });
    }
  }
  return undefined;
}

function tlsHandshakeRefused(servers: string, code: string, detail: string, cause: unknown): NatsSetupError {
  // OpenSSL's message is a line of its internals; its reason (e.g. "tlsv13 alert certificate required") is enough.
  const reason = /SSL routines:[^:]*:([^:]+)/.exec(detail)?.[1] ?? detail.split("\n")[0];
  return new NatsSetupError(
    "nats_tls",
    `NATS (${servers}) refused this service's TLS handshake (${code}: ${reason}): a server with \`verify: true\` needs a client certificate signed by a CA it trusts, in CROWSNEST_NATS_TLS_CERT_FILE and CROWSNEST_NATS_TLS_KEY_FILE`,
    { cause },
  );
}

/** `host` and `port` of a NATS URL (default port 4222). */
function hostAndPort(server: string): { host: string; port: number } {
  const url = new URL(server.includes("://") ? server : `nats://${server}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port === "" ? 4222 : Number(url.port) };
}

/**
 * A server that refuses the client's certificate (or its absence) does so after the client
 * finished its TLS 1.3 handshake; the NATS client then reports only a timeout. This probe does
 * the handshake itself (after the server's plain-text INFO line, as NATS does) and waits briefly
 * for the server's alert. Resolves the permanent failure it saw, or undefined.
 */
export async function probeTlsRefusal(
  context: FailureContext,
  timeoutMs = 5000,
): Promise<NatsSetupError | undefined> {
  const files = context.tls;
  const tlsOptions: ConnectionOptions = {
    ...(files?.caFile === undefined ? {} : { ca: await readFile(files.caFile) }),
    ...(files?.certFile === undefined ? {} : { cert: await readFile(files.certFile) }),
    ...(files?.keyFile === undefined ? {} : { key: await readFile(files.keyFile) }),
  };
  for (const server of context.servers) {
    const refusal = await probeOne(server, tlsOptions, timeoutMs).catch(() => undefined);
    if (refusal !== undefined) {
      return tlsHandshakeRefused(context.servers.join(","), refusal.code, refusal.message, refusal);
    }
  }
  return undefined;
}

type SslError = Error & { code: string };

async function probeOne(
  server: string,
  tlsOptions: ConnectionOptions,
  timeoutMs: number,
): Promise<SslError | undefined> {
  const { host, port } = hostAndPort(server);
  const sockets: (Socket | TLSSocket)[] = [];
  const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref());
  const probe = (async () => {
    const plain = connectTcp(port, host);
    sockets.push(plain);
    const info = await new Promise<string | undefined>((resolve) => {
      let text = "";
      plain.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        if (text.includes("\r\n")) {
          plain.removeAllListeners("data");
          plain.pause();
          resolve(text);
        }
      });
      plain.once("error", () => resolve(undefined));
      plain.once("close", () => resolve(undefined));
    });
    if (info === undefined || !/"tls_(required|available)"\s*:\s*true/.test(info)) return undefined;
    const secure = connectTls({
      socket: plain,
      // As the NATS client checks an IP address server.
      servername: /^[\d.:]+$/.test(host) ? "localhost" : host,
      rejectUnauthorized: true,
      ...tlsOptions,
    });
    sockets.push(secure);
    return await new Promise<SslError | undefined>((resolve) => {
      secure.on("error", (error: Error) => {
        const code = errorCode(error);
        resolve(code?.startsWith("ERR_SSL_") ? (error as SslError) : undefined);
      });
      secure.on("close", () => resolve(undefined));
      // Reading is what delivers the server's alert.
      secure.on("data", () => resolve(undefined));
    });
  })();
  try {
    return await Promise.race([probe, timer]);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}
