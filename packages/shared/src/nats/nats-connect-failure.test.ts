import { errors } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { permanentConnectFailure } from "./nats-connect-failure.ts";

const context = {
  servers: ["tls://nats-1:4222", "tls://nats-2:4222"],
  tls: { caFile: "/etc/crowsnest/ca.pem", certFile: undefined, keyFile: undefined },
};

const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("permanentConnectFailure", () => {
  it("names the CA setting when the server's certificate is not trusted", () => {
    const failure = permanentConnectFailure(
      nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
      context,
    );
    expect(failure?.code).toBe("nats_tls");
    expect(failure?.message).toContain("CROWSNEST_NATS_TLS_CA_FILE (/etc/crowsnest/ca.pem)");
    expect(failure?.message).toContain("tls://nats-1:4222,tls://nats-2:4222");
  });

  it("points at the system's CAs when no CA file is configured", () => {
    const failure = permanentConnectFailure(nodeError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed"), {
      ...context,
      tls: undefined,
    });
    expect(failure?.message).toContain("the system's CAs");
  });

  it("says the certificate names another host, and that an IP is checked as localhost", () => {
    const failure = permanentConnectFailure(
      nodeError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames"),
      context,
    );
    expect(failure?.message).toContain('checked as "localhost"');
  });

  it("treats refused credentials and a server without TLS as permanent", () => {
    expect(
      permanentConnectFailure(new errors.AuthorizationError("Authorization Violation"), context)?.code,
    ).toBe("nats_auth");
    expect(
      permanentConnectFailure(new errors.ConnectionError("server does not support 'tls'"), context)?.code,
    ).toBe("nats_tls");
    expect(
      permanentConnectFailure(new errors.ConnectionError("/etc/crowsnest/ca.pem doesn't exist"), context)
        ?.message,
    ).toContain("cannot read a NATS TLS file");
  });

  it("leaves what may pass to the retry loop: refused, unresolvable, timed out", () => {
    const refused = new errors.ConnectionError("connection refused", {
      cause: nodeError("ECONNREFUSED", "connect ECONNREFUSED"),
    });
    expect(permanentConnectFailure(refused, context)).toBeUndefined();
    expect(
      permanentConnectFailure(nodeError("ENOTFOUND", "getaddrinfo ENOTFOUND nats"), context),
    ).toBeUndefined();
    expect(permanentConnectFailure(new errors.TimeoutError(), context)).toBeUndefined();
  });
});
