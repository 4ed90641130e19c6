// Certificates for the TLS tests, made at test time with the openssl CLI (.ci/run installs it) in
// a throwaway directory: two unrelated CAs, each with a server certificate for 127.0.0.1 and a
// client certificate (mutual TLS). Nothing here talks to a server; redis_helpers.mjs starts a
// TLS-only redis-server with them.
import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Why the TLS tests are skipped here, or false. Under CI=true they never skip (.ci/run installs openssl). */
export const opensslMissing = (() => {
  if (process.env.CI === "true") return false;
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    try {
      accessSync(path.join(dir, "openssl"), constants.X_OK);
      return false;
    } catch {
      // not here
    }
  }
  return "openssl is not on PATH (apt-get install openssl)";
})();

// Extensions stated here rather than taken from the system's openssl.cnf, so that the
// certificates are the same on every machine: a CA that may sign, leaves that may not, a server
// certificate valid for 127.0.0.1 (the name the adapter checks: the URL's host), which may also
// serve as the tests' own client certificate (redis_helpers.mjs pings Redis with it).
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
`;

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/**
 * Make, in a new temp dir, CAs `ca` and `other`, each with `<ca>-server.{pem,key}` and
 * `<ca>-client.{pem,key}`. Returns {dir, file(name), read(name), remove()}: file("ca.pem") is a
 * path, read("ca.pem") its bytes.
 */
export function makeCertificates() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "switchyard-tls-"));
  const file = (name) => path.join(dir, name);
  const config = file("openssl.cnf");
  writeFileSync(config, CONFIG);
  const openssl = (args) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  let serial = 1;
  for (const ca of ["ca", "other"]) {
    openssl(["req", "-x509", "-config", config, "-extensions", "ca", ...EC_KEY, "-days", "2",
      "-subj", `/CN=Switchyard test ${ca}`, "-keyout", file(`${ca}.key`), "-out", file(`${ca}.pem`)]);
    for (const leaf of ["server", "client"]) {
      const name = `${ca}-${leaf}`;
      openssl(["req", "-new", "-config", config, ...EC_KEY, "-subj", `/CN=${name}`,
        "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`)]);
      openssl(["x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${ca}.pem`), "-CAkey", file(`${ca}.key`),
        "-set_serial", String(serial++), "-days", "2", "-extfile", config, "-extensions", leaf, "-out", file(`${name}.pem`)]);
    }
  }
  return {
    dir,
    file,
    read: (name) => readFileSync(file(name)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
