/**
 * The integrity files of an OVF package (DMTF DSP0243 §5.1–5.2):
 *
 * - the manifest (`NAME.mf`): one line per file, `SHA256(disk1.vmdk)= <hex>` (`SHA1` in OVF 1.x, `SHA256` or
 *   `SHA512` in 2.x). OpenSSL 3's own spelling (`SHA2-256(f)= `, what `openssl dgst -sha256 f` prints) and the
 *   BSD/coreutils tag style (`SHA256 (f) = `, from `sha256sum --tag`) are read too.
 * - the certificate file (`NAME.cert`): the signature over the manifest's bytes as one line,
 *   `SHA256(NAME.mf)= <hex>` (OpenSSL 1.x writes `RSA-SHA256(...)`), followed by the signer's X.509 certificate in
 *   PEM and, optionally, the certificates of its chain.
 *
 * Parsing never throws on content: a bad line is recorded and skipped. Verification uses node:crypto only.
 */
import { X509Certificate, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { HyperwardError } from '../errors.js';

/** Digest algorithms a manifest may name, as node:crypto names them. */
export type DigestAlgorithm = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Hex digits per digest. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = Object.freeze({
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
});

/** Largest manifest or certificate file read. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CERT_BYTES = 1024 * 1024;
/** Most manifest lines read. */
export const MAX_MANIFEST_ENTRIES = 100_000;
/** Most certificates read from one certificate file. */
export const MAX_CERTIFICATES = 16;

/**
 * The algorithm a manifest or signature line names: `SHA256`, `SHA2-256`, `RSA-SHA256`, `sha256`... Returns
 * undefined for anything else (MD5 included: OVF never allowed it).
 */
export function digestAlgorithm(name: string): DigestAlgorithm | undefined {
  const n = name
    .trim()
    .toUpperCase()
    .replace(/^(RSA|ECDSA|DSA|EC)-/, '');
  switch (n) {
    case 'SHA1':
    case 'SHA-1':
      return 'sha1';
    case 'SHA224':
    case 'SHA2-224':
    case 'SHA-224':
      return 'sha224';
    case 'SHA256':
    case 'SHA2-256':
    case 'SHA-256':
      return 'sha256';
    case 'SHA384':
    case 'SHA2-384':
    case 'SHA-384':
      return 'sha384';
    case 'SHA512':
    case 'SHA2-512':
    case 'SHA-512':
      return 'sha512';
    default:
      return undefined;
  }
}

export interface ManifestEntry {
  /** As written on the line (`SHA256`, `SHA2-256`...). */
  algorithmName: string;
  algorithm: DigestAlgorithm;
  file: string;
  /** Lower-case hex. */
  digest: string;
  /** 1-based line. */
  line: number;
}

export interface LineProblem {
  line?: number;
  message: string;
}

export interface Manifest {
  entries: ManifestEntry[];
  problems: LineProblem[];
}

// `ALGO(file)= hex`, with optional blanks around `=` and before `(` (BSD tag style). The file name is greedy so a
// name holding `)=` still ends at the last one.
const DIGEST_LINE = /^([A-Za-z0-9-]{1,16})\s?\((.*)\)\s*=\s*([0-9A-Fa-f]+)\s*$/;

/**
 * Parses a manifest. Lines that are blank are skipped; a line that is not `ALGO(file)= hex`, names an unknown
 * algorithm, has a digest of the wrong length, or repeats a file is recorded in `problems` and left out.
 *
 * @throws HyperwardError E_LIMIT when the manifest exceeds {@link MAX_MANIFEST_BYTES}
 */
export function parseManifest(input: string | Uint8Array, file: string): Manifest {
  const text = toText(input, file, MAX_MANIFEST_BYTES, 'OVF manifest');
  const entries: ManifestEntry[] = [];
  const problems: LineProblem[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const line = i + 1;
    if (entries.length >= MAX_MANIFEST_ENTRIES) {
      problems.push({ line, message: `more than ${MAX_MANIFEST_ENTRIES} entries; the rest is ignored` });
      break;
    }
    const m = DIGEST_LINE.exec(raw);
    if (!m) {
      problems.push({ line, message: `not a manifest line: ${JSON.stringify(raw.slice(0, 80))}` });
      continue;
    }
    const [, algorithmName, name, hex] = m as unknown as [string, string, string, string];
    const algorithm = digestAlgorithm(algorithmName);
    if (algorithm === undefined) {
      problems.push({ line, message: `unknown digest algorithm ${JSON.stringify(algorithmName)}` });
      continue;
    }
    if (hex.length !== DIGEST_HEX_LENGTH[algorithm]) {
      problems.push({
        line,
        message: `${algorithmName} digest of ${JSON.stringify(name)} has ${hex.length} hex digits, not ${DIGEST_HEX_LENGTH[algorithm]}`,
      });
      continue;
    }
    if (name === '') {
      problems.push({ line, message: 'entry with an empty file name' });
      continue;
    }
    if (seen.has(name)) {
      problems.push({
        line,
        message: `${JSON.stringify(name)} is listed more than once (later entry ignored)`,
      });
      continue;
    }
    seen.add(name);
    entries.push({ algorithmName, algorithm, file: name, digest: hex.toLowerCase(), line });
  }
  return { entries, problems };
}

/** The signature line of a certificate file. */
export interface SignatureLine {
  algorithmName: string;
  algorithm: DigestAlgorithm;
  /** The file it signs (the manifest). */
  file: string;
  signature: Buffer;
  line: number;
}

export interface CertFile {
  signature?: SignatureLine;
  /** PEM blocks of `CERTIFICATE`, in file order (the signer first). */
  certificates: string[];
  problems: LineProblem[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n\t ]*?)-----END CERTIFICATE-----/g;

/**
 * Parses a certificate file: the first line that is `ALGO(file)= hex` outside a PEM block is the signature;
 * every `CERTIFICATE` PEM block is kept (up to {@link MAX_CERTIFICATES}). Other PEM blocks and stray lines are
 * recorded as problems (a private key shipped by mistake is worth knowing about).
 *
 * @throws HyperwardError E_LIMIT when the file exceeds {@link MAX_CERT_BYTES}
 */
export function parseCertFile(input: string | Uint8Array, file: string): CertFile {
  const text = toText(input, file, MAX_CERT_BYTES, 'OVF certificate');
  const out: CertFile = { certificates: [], problems: [] };
  const lines = text.split('\n');
  let inPem: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '').trim();
    const line = i + 1;
    if (raw === '') continue;
    const begin = /^-----BEGIN ([A-Z0-9 ]{1,40})-----$/.exec(raw);
    if (begin) {
      inPem = begin[1]!;
      if (inPem !== 'CERTIFICATE') {
        out.problems.push({
          line,
          message: `${inPem.includes('PRIVATE KEY') ? 'a private key' : `a ${inPem} block`} in the certificate file`,
        });
      }
      continue;
    }
    if (/^-----END [A-Z0-9 ]{1,40}-----$/.test(raw)) {
      inPem = undefined;
      continue;
    }
    if (inPem !== undefined) continue;
    const m = DIGEST_LINE.exec(raw);
    if (m && out.signature === undefined) {
      const [, algorithmName, name, hex] = m as unknown as [string, string, string, string];
      const algorithm = digestAlgorithm(algorithmName);
      if (algorithm === undefined) {
        out.problems.push({ line, message: `unknown signature digest ${JSON.stringify(algorithmName)}` });
      } else if (hex.length % 2 !== 0 || hex.length < 16 || hex.length > 4096) {
        out.problems.push({ line, message: `signature of ${hex.length} hex digits is not plausible` });
      } else {
        out.signature = { algorithmName, algorithm, file: name, signature: Buffer.from(hex, 'hex'), line };
      }
      continue;
    }
    out.problems.push({
      line,
      message: m
        ? 'a second signature line (ignored)'
        : `unexpected line: ${JSON.stringify(raw.slice(0, 80))}`,
    });
  }
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (out.certificates.length >= MAX_CERTIFICATES) {
      out.problems.push({ message: `more than ${MAX_CERTIFICATES} certificates; the rest is ignored` });
      break;
    }
    out.certificates.push(m[0].replace(/\r/g, ''));
  }
  if (out.signature === undefined) out.problems.push({ message: 'no signature line (ALGO(file.mf)= hex)' });
  if (out.certificates.length === 0) out.problems.push({ message: 'no PEM certificate' });
  return out;
}

/** Facts about one certificate, for reports and findings. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  /** Issuer equals subject and the certificate's own key verifies it. */
  selfSigned: boolean;
  expired: boolean;
  notYetValid: boolean;
  /** Position in the certificate file (0 = first). */
  index: number;
}

export interface SignatureCheck {
  /** `valid`: the signature over the manifest verifies with the signer's key. */
  status: 'valid' | 'invalid';
  /** Why it is invalid (or a note on a valid one, e.g. signed by a certificate other than the first). */
  reason?: string;
  algorithm?: DigestAlgorithm;
  /** The file the signature line names. */
  signedFile?: string;
  /** Every certificate that could be read, in file order. */
  certificates: CertificateInfo[];
  /** The signer (a position in `certificates`). */
  signer?: number;
  chain: {
    /** Positions in `certificates`, signer first, each issued by the next. */
    path: number[];
    /** The path ends at a self-signed certificate, or at one issued by a trusted root. */
    complete: boolean;
    /** The path ends at (or is issued by) one of the trusted roots. */
    trusted: boolean;
    /** The trusted root it reaches (subject), when it does. */
    root?: string;
    problems: string[];
  };
  problems: LineProblem[];
}

export interface VerifyOptions {
  /** The moment validity is judged at (default: now). */
  now?: Date;
  /**
   * Trusted root certificates in PEM. Default: none, so a chain is `complete` at best; pass
   * `tls.rootCertificates` (Node's bundled Mozilla store) or a vendor's roots to have `trusted` decided.
   */
  trustedRoots?: readonly string[];
}

function toIso(s: string): string {
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : new Date(t).toISOString();
}

/** One certificate's facts at `now`. */
function describe(cert: X509Certificate, index: number, now: number): CertificateInfo {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  let selfSigned = false;
  if (cert.issuer === cert.subject) {
    try {
      selfSigned = cert.verify(cert.publicKey);
    } catch {
      selfSigned = false;
    }
  }
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    validFrom: toIso(cert.validFrom),
    validTo: toIso(cert.validTo),
    fingerprint256: cert.fingerprint256,
    selfSigned,
    expired: !Number.isNaN(to) && now > to,
    notYetValid: !Number.isNaN(from) && now < from,
    index,
  };
}

/** `child` was issued and signed by `parent`. */
function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function verifyWith(alg: DigestAlgorithm, data: Uint8Array, key: KeyObject, sig: Buffer): boolean {
  try {
    return cryptoVerify(alg, data, key, sig);
  } catch {
    return false;
  }
}

/**
 * Verifies a certificate file against the manifest it signs: the signature over the manifest's exact bytes with
 * the signer's public key and the digest the line names, the signer's validity at `now`, whether it is
 * self-signed, and the chain through the other certificates of the file (and the trusted roots, when given).
 *
 * The signer is the first certificate; when it does not verify the signature but another one of the file does,
 * that one is taken and the report says so.
 */
export function verifyCertFile(
  cert: CertFile,
  manifestName: string,
  manifestBytes: Uint8Array,
  opts: VerifyOptions = {},
): SignatureCheck {
  const now = (opts.now ?? new Date()).getTime();
  const result: SignatureCheck = {
    status: 'invalid',
    certificates: [],
    chain: { path: [], complete: false, trusted: false, problems: [] },
    problems: [...cert.problems],
  };
  const parsed: X509Certificate[] = [];
  cert.certificates.forEach((pem, i) => {
    try {
      const x = new X509Certificate(pem);
      result.certificates.push(describe(x, i, now));
      parsed.push(x);
    } catch (e) {
      result.problems.push({ message: `certificate ${i + 1} cannot be read: ${(e as Error).message}` });
    }
  });
  const sig = cert.signature;
  if (sig === undefined) {
    result.reason = 'the certificate file has no signature line';
    return result;
  }
  result.algorithm = sig.algorithm;
  result.signedFile = sig.file;
  if (parsed.length === 0) {
    result.reason = 'the certificate file has no readable certificate';
    return result;
  }
  // A damaged certificate can parse yet hold a key OpenSSL cannot decode: that certificate cannot be the signer.
  const signer = parsed.findIndex((x) => {
    try {
      return verifyWith(sig.algorithm, manifestBytes, x.publicKey, sig.signature);
    } catch {
      return false;
    }
  });
  if (signer === -1) {
    result.reason = `the ${sig.algorithmName} signature does not verify against ${manifestName} with the certificate's key`;
  } else if (sig.file !== manifestName && sig.file.replace(/^\.\//, '') !== manifestName) {
    result.reason = `the signature line names ${JSON.stringify(sig.file)}, not the manifest ${JSON.stringify(manifestName)}`;
  } else {
    result.status = 'valid';
    if (signer !== 0) result.reason = `signed by certificate ${signer + 1} of the file, not the first`;
  }
  const start = signer === -1 ? 0 : signer;
  result.signer = start;
  try {
    buildChain(parsed, start, result, opts.trustedRoots ?? []);
  } catch (e) {
    // OpenSSL refusing a damaged certificate's key or signature while the chain is built: no chain is claimed.
    result.reason = `a certificate of the file cannot be used: ${(e as Error).message}`;
  }
  return result;
}

function buildChain(
  certs: X509Certificate[],
  start: number,
  result: SignatureCheck,
  trustedPem: readonly string[],
): void {
  const chain = result.chain;
  const roots: X509Certificate[] = [];
  for (const pem of trustedPem) {
    try {
      roots.push(new X509Certificate(pem));
    } catch {
      chain.problems.push('a trusted root could not be read');
    }
  }
  const isRoot = (x: X509Certificate): X509Certificate | undefined =>
    roots.find((r) => r.fingerprint256 === x.fingerprint256);
  let cur = start;
  chain.path.push(cur);
  for (let steps = 0; steps <= certs.length; steps++) {
    const x = certs[cur]!;
    const trustedSelf = isRoot(x);
    if (trustedSelf !== undefined) {
      chain.complete = chain.trusted = true;
      chain.root = trustedSelf.subject;
      return;
    }
    if (result.certificates[cur]?.selfSigned === true) {
      chain.complete = true;
      chain.problems.push(`the chain ends at a self-signed certificate that is not trusted (${x.subject})`);
      return;
    }
    const trustedIssuer = roots.find((r) => issuedBy(x, r));
    if (trustedIssuer !== undefined) {
      chain.complete = chain.trusted = true;
      chain.root = trustedIssuer.subject;
      return;
    }
    const next = certs.findIndex((c, i) => i !== cur && !chain.path.includes(i) && issuedBy(x, c));
    if (next === -1) {
      chain.problems.push(`no certificate of the file issued ${x.subject} (issuer ${x.issuer})`);
      return;
    }
    cur = next;
    chain.path.push(cur);
  }
}

/** Reads one of the integrity files as text; over the cap is an error (the files are tiny in practice). */
function toText(input: string | Uint8Array, file: string, max: number, layer: string): string {
  if (typeof input === 'string') {
    if (input.length > max) throw new HyperwardError('E_LIMIT', `larger than ${max} bytes`, { file, layer });
    return input;
  }
  if (input.byteLength > max)
    throw new HyperwardError('E_LIMIT', `larger than ${max} bytes`, { file, layer });
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
}
