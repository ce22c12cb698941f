// Certificates made with openssl for tests that run a TLS server on loopback: a self-signed one
// for 127.0.0.1 (and localhost) that serves as the server's certificate and as the CA a client
// trusts, or a CA of the test's own that signs servers' and clients' certificates.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
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

export interface TestCertificateAuthority {
  readonly certPath: string;
  readonly keyPath: string;
  /** A certificate this CA signs for `subjectAltName` (e.g. `IP:127.0.0.1,DNS:localhost`), in `directory`. */
  issue(name: string, subjectAltName: string): LoopbackCertificate;
}

/** A CA of the test's own in `directory` (valid for a day), to sign servers' and clients' certificates. */
export function testCertificateAuthority(directory: string, name: string): TestCertificateAuthority {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const certPath = join(directory, `${name}-ca.pem`);
  const keyPath = join(directory, `${name}-ca.key`);
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name} test CA`,
    "-keyout",
    keyPath,
    "-out",
    certPath,
  );
  return {
    certPath,
    keyPath,
    issue(certificateName, subjectAltName) {
      const request = join(directory, `${certificateName}.csr`);
      const extensions = join(directory, `${certificateName}.ext`);
      const issued = {
        certPath: join(directory, `${certificateName}.pem`),
        keyPath: join(directory, `${certificateName}.key`),
      };
      openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=${certificateName}`,
        "-keyout",
        issued.keyPath,
        "-out",
        request,
      );
      writeFileSync(extensions, `subjectAltName=${subjectAltName}\n`);
      openssl(
        "x509",
        "-req",
        "-in",
        request,
        "-CA",
        certPath,
        "-CAkey",
        keyPath,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        extensions,
        "-out",
        issued.certPath,
      );
      return issued;
    },
  };
}
