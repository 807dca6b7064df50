/**
 * A private certificate authority made for one test run with Debian's `openssl`: a CA certificate
 * and server certificates it signs for the DNS names asked for, so tests can serve HTTPS that only
 * a client trusting this CA accepts (an in-cluster issuer with its own CA).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCa {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /** A key and certificate for `names` (DNS subjectAltNames; an IP address becomes an IP SAN), signed by this CA. */
  issue(...names: string[]): { readonly keyPem: string; readonly certPem: string };
}

/** Creates a CA named `commonName` (EC P-256, valid one day); files live in a temporary folder removed at once. */
export function createTestCa(commonName = "Portcullis test CA"): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-ca-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  try {
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
    openssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "1", "-subj", `/CN=${commonName}`, "-out", "ca.crt");
    const certPem = readFileSync(join(dir, "ca.crt"), "utf8");
    const caKeyPem = readFileSync(join(dir, "ca.key"), "utf8");
    rmSync(dir, { recursive: true, force: true });
    let serial = 0;
    return {
      certPem,
      issue(...names) {
        const work = mkdtempSync(join(tmpdir(), "portcullis-cert-"));
        const run = (...args: string[]) => execFileSync("openssl", args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
        try {
          writeFileSync(join(work, "ca.key"), caKeyPem, { mode: 0o600 });
          writeFileSync(join(work, "ca.crt"), certPem);
          const san = names.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
          writeFileSync(join(work, "ext.cnf"), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
          run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key");
          run("req", "-new", "-key", "server.key", "-subj", `/CN=${names[0] ?? "server"}`, "-out", "server.csr");
          serial += 1;
          run(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            String(1000 + serial),
            "-days",
            "1",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
          );
          return { keyPem: readFileSync(join(work, "server.key"), "utf8"), certPem: readFileSync(join(work, "server.crt"), "utf8") };
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
