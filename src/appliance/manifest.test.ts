import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import {
  DIGEST_HEX_LENGTH,
  MAX_MANIFEST_BYTES,
  digestAlgorithm,
  parseCertFile,
  parseManifest,
  verifyCertFile,
  type DigestAlgorithm,
} from './manifest.js';

/** A small PKI made with the openssl command line: self-signed keys, a CA, certificates with chosen dates. */
class Pki {
  private serial = 1;
  constructor(readonly dir: string) {}

  ossl(args: string[]): string {
    return run('openssl', args, { cwd: this.dir });
  }

  key(name: string, kind: 'rsa' | 'ec' = 'rsa'): string {
    const path = join(this.dir, `${name}.key`);
    if (kind === 'rsa')
      this.ossl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path]);
    else this.ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', path]);
    return path;
  }

  /** A self-signed certificate (`openssl req -x509`), or one with chosen dates (`openssl ca -selfsign`). */
  selfSigned(name: string, kind: 'rsa' | 'ec' = 'rsa', ca = false): { key: string; cert: string } {
    const key = this.key(name, kind);
    const cert = join(this.dir, `${name}.pem`);
    const ext = ca
      ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign']
      : [];
    this.ossl([
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${name}`,
      '-days',
      '3650',
      ...ext,
    ]);
    return { key, cert };
  }

  /** A certificate for `name` issued by `issuer` with the given validity (`YYYYMMDDHHMMSSZ`). */
  issue(
    name: string,
    issuer: { key: string; cert: string },
    start: string,
    end: string,
    opts: { ca?: boolean; kind?: 'rsa' | 'ec' } = {},
  ): { key: string; cert: string } {
    const key = this.key(name, opts.kind);
    const csr = join(this.dir, `${name}.csr`);
    const cert = join(this.dir, `${name}.pem`);
    this.ossl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${name}`]);
    const db = join(this.dir, `db-${name}`);
    mkdirSync(db);
    writeFileSync(join(db, 'index.txt'), '');
    writeFileSync(join(db, 'serial'), String(this.serial++).padStart(2, '0') + '\n');
    const conf = join(db, 'ca.cnf');
    writeFileSync(
      conf,
      [
        '[ca]',
        'default_ca = d',
        '[d]',
        `database = ${db}/index.txt`,
        `new_certs_dir = ${db}`,
        `serial = ${db}/serial`,
        'default_md = sha256',
        'policy = p',
        'unique_subject = no',
        'copy_extensions = none',
        `x509_extensions = ${opts.ca === true ? 'v3ca' : 'v3leaf'}`,
        '[p]',
        'commonName = supplied',
        '[v3ca]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = keyCertSign,cRLSign',
        'authorityKeyIdentifier = keyid',
        '[v3leaf]',
        'basicConstraints = CA:FALSE',
        'keyUsage = digitalSignature',
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    this.ossl([
      'ca',
      '-batch',
      '-config',
      conf,
      '-cert',
      issuer.cert,
      '-keyfile',
      issuer.key,
      '-in',
      csr,
      '-out',
      cert,
      '-startdate',
      start,
      '-enddate',
      end,
      '-notext',
    ]);
    return { key, cert };
  }

  /** `openssl dgst -ALG -sign KEY -out SIG FILE`, returned as hex. */
  sign(key: string, file: string, alg: DigestAlgorithm = 'sha256'): string {
    const sig = join(this.dir, 'sig.bin');
    this.ossl(['dgst', `-${alg}`, '-sign', key, '-out', sig, file]);
    return readFileSync(sig).toString('hex');
  }

  /** openssl's own verdict on a signature: the oracle. */
  opensslVerifies(cert: string, file: string, hexSig: string, alg: DigestAlgorithm = 'sha256'): boolean {
    const pub = join(this.dir, 'pub.pem');
    this.ossl(['x509', '-in', cert, '-pubkey', '-noout', '-out', pub]);
    const sig = join(this.dir, 'check.bin');
    writeFileSync(sig, Buffer.from(hexSig, 'hex'));
    const r = spawnSync('openssl', ['dgst', `-${alg}`, '-verify', pub, '-signature', sig, file], {
      cwd: this.dir,
    });
    return r.status === 0;
  }
}

const pem = (path: string): string => readFileSync(path, 'utf8');

describe('manifest lines as the tools write them', () => {
  const t = tempDir('hw-mf-');
  const files = ['disk1.vmdk', 'a (1).ovf', 'name with spaces.iso'];
  before(() => {
    writeFileSync(join(t.dir, files[0]!), Buffer.alloc(5000, 3));
    writeFileSync(join(t.dir, files[1]!), '<Envelope/>');
    writeFileSync(join(t.dir, files[2]!), 'iso');
  });
  after(() => t.cleanup());

  it('reads `openssl dgst` (SHA1, SHA2-256, SHA2-512) and `sha256sum --tag` output, digests as the tools computed them', () => {
    for (const [tool, args, alg] of [
      ['openssl', ['dgst', '-sha1'], 'sha1'],
      ['openssl', ['dgst', '-sha256'], 'sha256'],
      ['openssl', ['dgst', '-sha512'], 'sha512'],
      ['sha256sum', ['--tag'], 'sha256'],
      ['sha512sum', ['--tag'], 'sha512'],
    ] as const) {
      const out = run(tool, [...args, ...files], { cwd: t.dir });
      const m = parseManifest(out, 'x.mf');
      assert.deepEqual(m.problems, [], `${tool} ${args.join(' ')}`);
      assert.deepEqual(
        m.entries.map((e) => e.file),
        files,
      );
      for (const e of m.entries) {
        assert.equal(e.algorithm, alg);
        // The independent digest of the same file, from the other tool.
        const ref = run('openssl', ['dgst', `-${alg}`, '-r', e.file], { cwd: t.dir }).split(' ')[0];
        assert.equal(e.digest, ref);
      }
    }
  });

  it('reads the OVF syntax with CRLF line ends; records bad lines and goes on', () => {
    const hex = (n: number): string => 'ab'.repeat(n / 2);
    const text = [
      `SHA256(disk1.vmdk)= ${hex(64)}`,
      `SHA1(app.ovf)= ${hex(40)}`,
      `MD5(x)= ${hex(32)}`,
      `SHA256(short)= ${hex(40)}`,
      'garbage line',
      `SHA256(disk1.vmdk)= ${hex(64)}`,
      `SHA512()= ${hex(128)}`,
      '',
      `SHA256(a)=b)= ${hex(64).toUpperCase()}`,
    ].join('\r\n');
    const m = parseManifest(text, 'app.mf');
    assert.deepEqual(
      m.entries.map((e) => [e.algorithm, e.file, e.line]),
      [
        ['sha256', 'disk1.vmdk', 1],
        ['sha1', 'app.ovf', 2],
        ['sha256', 'a)=b', 9],
      ],
    );
    assert.equal(m.entries[2]!.digest, hex(64));
    assert.deepEqual(
      m.problems.map((p) => p.line),
      [3, 4, 5, 6, 7],
    );
    expectError(() => parseManifest(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x41), 'big.mf'), 'E_LIMIT');
  });

  it('any well-formed entry list round-trips', () => {
    const alg = fc.constantFrom<DigestAlgorithm>('sha1', 'sha256', 'sha512', 'sha384', 'sha224');
    const name = fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => !/[\r\n]/.test(s) && s.trim() === s && s !== '');
    const entry = fc.tuple(alg, name, fc.nat()).map(([a, n, seed]) => {
      const hex = Array.from({ length: DIGEST_HEX_LENGTH[a] }, (_, i) =>
        ((seed + i * 7) % 16).toString(16),
      ).join('');
      return { a, n, hex };
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.n, maxLength: 10 }), (entries) => {
        const text = entries.map((e) => `${e.a.toUpperCase()}(${e.n})= ${e.hex}`).join('\n') + '\n';
        const m = parseManifest(text, 'p.mf');
        assert.deepEqual(m.problems, []);
        assert.deepEqual(
          m.entries.map((e) => [e.algorithm, e.file, e.digest]),
          entries.map((e) => [e.a, e.n, e.hex]),
        );
      }),
    );
  });

  it('random text never crashes the manifest or certificate parser', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        onlyHyperwardErrors(() => parseManifest(s, 'f.mf'));
        onlyHyperwardErrors(() => {
          const c = parseCertFile(s, 'f.cert');
          verifyCertFile(c, 'f.mf', Buffer.from(s));
        });
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        onlyHyperwardErrors(() => parseManifest(b, 'f.mf'));
        onlyHyperwardErrors(() => verifyCertFile(parseCertFile(b, 'f.cert'), 'f.mf', b));
      }),
      { numRuns: 300 },
    );
  });

  it('digest names', () => {
    assert.equal(digestAlgorithm('SHA2-256'), 'sha256');
    assert.equal(digestAlgorithm('RSA-SHA2-256'), 'sha256');
    assert.equal(digestAlgorithm('EC-SHA2-512'), 'sha512');
    assert.equal(digestAlgorithm('RSA-SHA1'), 'sha1');
    assert.equal(digestAlgorithm('MD5'), undefined);
  });
});

describe('certificate files signed with openssl', () => {
  const t = tempDir('hw-cert-');
  const pki = new Pki(t.dir);
  const mf = join(t.dir, 'app.mf');
  let self: { key: string; cert: string };
  let root: { key: string; cert: string };
  let inter: { key: string; cert: string };
  let leaf: { key: string; cert: string };
  let expired: { key: string; cert: string };
  let future: { key: string; cert: string };
  let ecSelf: { key: string; cert: string };

  before(() => {
    writeFileSync(mf, `SHA256(app.ovf)= ${'1f'.repeat(32)}\nSHA256(disk1.vmdk)= ${'2e'.repeat(32)}\n`);
    self = pki.selfSigned('Appliance Vendor');
    ecSelf = pki.selfSigned('EC Vendor', 'ec');
    root = pki.selfSigned('Test Root CA', 'rsa', true);
    inter = pki.issue('Test Issuing CA', root, '20200101000000Z', '20991231000000Z', { ca: true });
    leaf = pki.issue('Vendor Code Signing', inter, '20200101000000Z', '20991231000000Z');
    expired = pki.issue('Expired Signer', inter, '20200101000000Z', '20210101000000Z');
    future = pki.issue('Future Signer', inter, '20900101000000Z', '20950101000000Z');
  });
  after(() => t.cleanup());

  const certFile = (hexSig: string, ...certs: string[]): string =>
    [`SHA256(app.mf)= ${hexSig}`, ...certs.map(pem)].join('\n');

  it('a self-signed certificate: the signature verifies exactly when openssl says so', () => {
    const sig = pki.sign(self.key, mf);
    const bytes = readFileSync(mf);
    const good = verifyCertFile(parseCertFile(certFile(sig, self.cert), 'app.cert'), 'app.mf', bytes);
    assert.equal(pki.opensslVerifies(self.cert, mf, sig), true);
    assert.equal(good.status, 'valid');
    assert.equal(good.algorithm, 'sha256');
    assert.equal(good.signedFile, 'app.mf');
    assert.equal(good.certificates[0]!.selfSigned, true);
    assert.equal(good.certificates[0]!.expired, false);
    assert.equal(good.certificates[0]!.subject, 'CN=Appliance Vendor');
    assert.equal(good.chain.complete, true);
    assert.equal(good.chain.trusted, false);

    // The manifest changed after signing.
    const tampered = join(t.dir, 'tampered.mf');
    writeFileSync(tampered, Buffer.concat([bytes, Buffer.from('SHA256(extra)= ' + '00'.repeat(32) + '\n')]));
    assert.equal(pki.opensslVerifies(self.cert, tampered, sig), false);
    const r1 = verifyCertFile(
      parseCertFile(certFile(sig, self.cert), 'app.cert'),
      'app.mf',
      readFileSync(tampered),
    );
    assert.equal(r1.status, 'invalid');
    assert.match(r1.reason ?? '', /does not verify/);

    // The signature itself altered (one hex digit).
    const flipped = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
    assert.equal(pki.opensslVerifies(self.cert, mf, flipped), false);
    assert.equal(
      verifyCertFile(parseCertFile(certFile(flipped, self.cert), 'c'), 'app.mf', bytes).status,
      'invalid',
    );

    // Signed by one key, shipped with another's certificate.
    assert.equal(pki.opensslVerifies(root.cert, mf, sig), false);
    assert.equal(
      verifyCertFile(parseCertFile(certFile(sig, root.cert), 'c'), 'app.mf', bytes).status,
      'invalid',
    );

    // A valid signature whose line names another file.
    const other = parseCertFile(`SHA256(other.mf)= ${sig}\n${pem(self.cert)}`, 'c');
    const r2 = verifyCertFile(other, 'app.mf', bytes);
    assert.equal(r2.status, 'invalid');
    assert.match(r2.reason ?? '', /names "other.mf"/);
  });

  it("openssl's own `-hex` output line (EC key, SHA-512) is read as it is", () => {
    const out = pki.ossl(['dgst', '-sha512', '-sign', ecSelf.key, '-hex', mf]).trim();
    assert.match(out, /^EC-SHA2-512\(/);
    const text = out.replace(/^(\S+)\(.*\)=/, '$1(app.mf)=') + '\n' + pem(ecSelf.cert);
    const r = verifyCertFile(parseCertFile(text, 'c'), 'app.mf', readFileSync(mf));
    assert.equal(r.status, 'valid');
    assert.equal(r.algorithm, 'sha512');
  });

  it('a chain: complete through the intermediate, trusted only with the root given, as `openssl verify` decides', () => {
    const sig = pki.sign(leaf.key, mf);
    const bytes = readFileSync(mf);
    const full = verifyCertFile(
      parseCertFile(certFile(sig, leaf.cert, inter.cert, root.cert), 'c'),
      'app.mf',
      bytes,
    );
    assert.equal(full.status, 'valid');
    assert.deepEqual(full.chain.path, [0, 1, 2]);
    assert.equal(full.chain.complete, true);
    assert.equal(full.chain.trusted, false);
    assert.equal(full.certificates[0]!.selfSigned, false);
    const trusted = verifyCertFile(
      parseCertFile(certFile(sig, leaf.cert, inter.cert), 'c'),
      'app.mf',
      bytes,
      {
        trustedRoots: [pem(root.cert)],
      },
    );
    const ok = spawnSync('openssl', ['verify', '-CAfile', root.cert, '-untrusted', inter.cert, leaf.cert]);
    assert.equal(ok.status, 0);
    assert.equal(trusted.chain.trusted, true);
    assert.equal(trusted.chain.root, 'CN=Test Root CA');
    // Without the intermediate, neither openssl nor the chain builder reaches the root.
    const gap = verifyCertFile(parseCertFile(certFile(sig, leaf.cert), 'c'), 'app.mf', bytes, {
      trustedRoots: [pem(root.cert)],
    });
    const notOk = spawnSync('openssl', ['verify', '-CAfile', root.cert, leaf.cert]);
    assert.notEqual(notOk.status, 0);
    assert.equal(gap.status, 'valid');
    assert.equal(gap.chain.complete, false);
    assert.equal(gap.chain.trusted, false);
    assert.match(gap.chain.problems[0]!, /no certificate of the file issued CN=Vendor Code Signing/);
    // The signer listed after its CA: still found, and said so.
    const swapped = verifyCertFile(parseCertFile(certFile(sig, inter.cert, leaf.cert), 'c'), 'app.mf', bytes);
    assert.equal(swapped.status, 'valid');
    assert.equal(swapped.signer, 1);
    assert.match(swapped.reason ?? '', /certificate 2/);
  });

  it('validity dates as `openssl x509 -checkend` judges them', () => {
    const bytes = readFileSync(mf);
    for (const [c, isExpired, isFuture] of [
      [expired, true, false],
      [future, false, true],
      [leaf, false, false],
    ] as const) {
      const sig = pki.sign(c.key, mf);
      const r = verifyCertFile(
        parseCertFile(certFile(sig, c.cert, inter.cert, root.cert), 'c'),
        'app.mf',
        bytes,
      );
      assert.equal(r.status, 'valid');
      assert.equal(r.certificates[0]!.expired, isExpired);
      assert.equal(r.certificates[0]!.notYetValid, isFuture);
      const checkend = spawnSync('openssl', ['x509', '-in', c.cert, '-noout', '-checkend', '0']);
      // -checkend 0 fails for a certificate that has already expired.
      assert.equal(checkend.status !== 0, isExpired);
    }
    // Judged at another moment.
    const sig = pki.sign(expired.key, mf);
    const then = verifyCertFile(parseCertFile(certFile(sig, expired.cert), 'c'), 'app.mf', bytes, {
      now: new Date('2020-06-01T00:00:00Z'),
    });
    assert.equal(then.certificates[0]!.expired, false);
    assert.equal(then.certificates[0]!.validTo, '2021-01-01T00:00:00.000Z');
  });

  it('reports a private key, a missing signature line and unreadable certificates', () => {
    const text = `${pem(self.key)}\n${pem(self.cert)}\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    const c = parseCertFile(text, 'c');
    assert.match(c.problems.map((p) => p.message).join('\n'), /a private key/);
    assert.match(c.problems.map((p) => p.message).join('\n'), /no signature line/);
    const r = verifyCertFile(c, 'app.mf', readFileSync(mf));
    assert.equal(r.status, 'invalid');
    assert.match(r.problems.map((p) => p.message).join('\n'), /certificate 2 cannot be read/);
  });
});
