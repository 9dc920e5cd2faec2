import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import { isLoopback } from "@drover/shared/config";
import { CONTROLLER_TLS_NAME } from "@drover/shared/tls";

/** The controller's TLS material (for its REST API and the agents' stream), as PEM. */
export interface ServerTls {
  /** the CA clients and agents trust (`curl --cacert`, `drover agent --ca-file`) */
  caFile: string;
  cert: string;
  key: string;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

/**
 * Whether a listener needs TLS: always beyond loopback in "auto" (tokens must not cross a
 * network in clear text), never on loopback unless asked ("on").
 */
export function needsTls(host: string, mode: "auto" | "on" | "off"): boolean {
  if (mode === "on") return true;
  if (mode === "off") return false;
  return !isLoopback(host);
}

/**
 * Loads, or creates on first use, DROVER_HOME/keys/ca.pem (a CA made for this controller, its key
 * beside it) and a server certificate it signs for the names clients and agents may use to
 * reach the controller: this machine's host name and addresses, localhost, and `extraNames`
 * (tls.names, e.g. a DNS alias). The certificate is made again when that list changes.
 * Administrators may put their own files in place of these.
 */
export function ensureServerTls(home: string, extraNames: string[]): ServerTls {
  const dir = join(home, "keys");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, "ca.pem");
  const caKeyFile = join(dir, "ca-key.pem");
  const certFile = join(dir, "server-cert.pem");
  const keyFile = join(dir, "server-key.pem");
  const namesFile = join(dir, "server-cert.names");

  if (!existsSync(caFile) || !existsSync(caKeyFile)) {
    const { cert, key } = makeCertificate({ commonName: `drover controller CA (${hostname()})`, ca: true, years: 10 });
    writeFileSync(caKeyFile, key, { mode: 0o600 });
    writeFileSync(caFile, cert, { mode: 0o644 });
  }
  const names = [...new Set([CONTROLLER_TLS_NAME, hostname(), "localhost", "127.0.0.1", "::1", ...localAddresses(), ...extraNames])].sort();
  const current = existsSync(namesFile) ? readFileSync(namesFile, "utf8") : "";
  if (!existsSync(certFile) || !existsSync(keyFile) || current !== names.join("\n")) {
    const issuer = { cert: readFileSync(caFile, "utf8"), key: readFileSync(caKeyFile, "utf8") };
    const { cert, key } = makeCertificate({ commonName: hostname(), names, years: 2, issuer });
    writeFileSync(keyFile, key, { mode: 0o600 });
    writeFileSync(certFile, cert, { mode: 0o644 });
    writeFileSync(namesFile, names.join("\n"), { mode: 0o644 });
  }
  return { caFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => (a && !a.internal ? [a.address] : []));
}

/** An X.509 certificate (RSA 2048, SHA-256), self-signed or signed by `issuer`. */
function makeCertificate(opts: {
  commonName: string;
  ca?: boolean;
  names?: string[];
  years: number;
  issuer?: { cert: string; key: string };
}): { cert: string; key: string } {
  // the key pair from Node's crypto (native, fast); node-forge builds and signs the certificate
  // (loaded here, only when a certificate is made: the module costs every controller megabytes)
  const forge = require("node-forge") as typeof import("node-forge");
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = "01" + randomBytes(15).toString("hex");
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + opts.years * YEAR_MS);
  const subject = [{ name: "commonName", value: opts.commonName }, { name: "organizationName", value: "drover" }];
  cert.setSubject(subject);
  const issuerCert = opts.issuer ? forge.pki.certificateFromPem(opts.issuer.cert) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const isIp = (n: string) => /^[\d.]+$/.test(n) || n.includes(":");
  cert.setExtensions(
    opts.ca
      ? [
          { name: "basicConstraints", cA: true, critical: true },
          { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
          { name: "subjectKeyIdentifier" },
        ]
      : [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
          { name: "extKeyUsage", serverAuth: true },
          { name: "subjectAltName", altNames: (opts.names ?? []).map((n) => (isIp(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
        ],
  );
  const signingKey = forge.pki.privateKeyFromPem(opts.issuer ? opts.issuer.key : keyPem);
  cert.sign(signingKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}
