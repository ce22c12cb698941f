// A self-signed certificate for 127.0.0.1 (and localhost), made with openssl, for tests that run a TLS server
// on loopback: it serves as the server's certificate and as the CA a client trusts.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface LoopbackCertificate {
  keyPath: string;
  certPath: string;
}

/** Writes `key.pem` and `cert.pem` into `directory` (valid for a day) and returns their paths. */
export function selfSignedLoopbackCertificate(directory: string): LoopbackCertificate {
  const keyPath = join(directory, "key.pem");
  const certPath = join(directory, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      // DNS:localhost too: nats.js names an IP server `localhost` when it checks the certificate.
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { stdio: "ignore" },
  );
  return { keyPath, certPath };
}
