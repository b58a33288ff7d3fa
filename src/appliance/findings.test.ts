import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fingerprint, type Finding } from '../model/finding.js';
import { APPLIANCE_CHECKS, applianceFindings } from './findings.js';
import type { CertificateInfo, SignatureCheck } from './manifest.js';
import type { ManifestCheck, ManifestResult, Ova } from './ova.js';

/** Literal appliances: the findings builder is a pure function of what `openOva` found. */
function ova(parts: Partial<Ova> = {}): Ova {
  return {
    path: '/images/app.ova',
    kind: 'ova',
    descriptor: 'app.ovf',
    files: [],
    disks: [],
    problems: [],
    openDisk: () => assert.fail('not opened in these tests'),
    openFile: () => assert.fail('not opened in these tests'),
    ...parts,
  };
}

const entry = (
  file: string,
  status: ManifestResult['status'],
  alg: 'sha1' | 'sha256' = 'sha256',
): ManifestResult => ({
  file,
  algorithm: alg,
  algorithmName: alg.toUpperCase(),
  expected: 'aa'.repeat(alg === 'sha1' ? 20 : 32),
  ...(status === 'mismatch' ? { actual: 'bb'.repeat(32) } : {}),
  status,
  line: 1,
});

const manifest = (entries: ManifestResult[], extra: Partial<ManifestCheck> = {}): ManifestCheck => ({
  name: 'app.mf',
  entries,
  problems: [],
  uncovered: [],
  ...extra,
});

const cert = (c: Partial<CertificateInfo>): CertificateInfo => ({
  subject: 'CN=Vendor Signing',
  issuer: 'CN=Vendor CA',
  serialNumber: '01',
  validFrom: '2020-01-01T00:00:00.000Z',
  validTo: '2099-01-01T00:00:00.000Z',
  fingerprint256: 'AA:BB',
  selfSigned: false,
  expired: false,
  notYetValid: false,
  index: 0,
  ...c,
});

const signature = (s: Partial<SignatureCheck>): SignatureCheck & { name: string } => ({
  name: 'app.cert',
  status: 'valid',
  algorithm: 'sha256',
  signedFile: 'app.mf',
  certificates: [cert({})],
  signer: 0,
  chain: { path: [0], complete: true, trusted: true, root: 'CN=Root', problems: [] },
  problems: [],
  ...s,
});

const byCheck = (fs: Finding[]): Map<string, Finding> => new Map(fs.map((f) => [f.checkId, f]));

describe('appliance findings', () => {
  it('a sound, signed package: one pass per check, fingerprints from check and appliance only', () => {
    const fs = applianceFindings(
      ova({
        manifest: manifest([entry('app.ovf', 'ok'), entry('disk1.vmdk', 'ok')]),
        signature: signature({}),
      }),
    );
    assert.deepEqual(fs.map((f) => f.checkId).sort(), Object.values(APPLIANCE_CHECKS).sort());
    for (const f of fs) {
      assert.equal(f.status, 'pass', f.checkId);
      assert.equal(f.id, fingerprint(f.checkId, 'appliance', '/images/app.ova'));
      assert.deepEqual(f.resource, { type: 'appliance', id: '/images/app.ova' });
    }
    assert.equal(new Set(fs.map((f) => f.id)).size, fs.length);
    // The resource id can be named by the caller (a library path, a catalogue id).
    const named = applianceFindings(ova(), { target: 'catalog:fw-7.2' });
    assert.ok(named.every((f) => f.resource.id === 'catalog:fw-7.2'));
  });

  it('no manifest, no certificate: the checks that need them are not run', () => {
    const m = byCheck(applianceFindings(ova()));
    assert.equal(m.get(APPLIANCE_CHECKS.manifestMissing)?.status, 'fail');
    assert.equal(m.get(APPLIANCE_CHECKS.manifestMissing)?.severity, 'medium');
    assert.equal(m.get(APPLIANCE_CHECKS.unsigned)?.status, 'fail');
    assert.equal(m.get(APPLIANCE_CHECKS.unsigned)?.severity, 'medium');
    for (const id of [
      APPLIANCE_CHECKS.manifestMismatch,
      APPLIANCE_CHECKS.manifestWeakDigest,
      APPLIANCE_CHECKS.signatureInvalid,
      APPLIANCE_CHECKS.certExpired,
    ]) {
      assert.equal(m.has(id), false, id);
    }
  });

  it('mismatch (high) with the file, line and both digests; weak digests (low); uncovered files', () => {
    const m = byCheck(
      applianceFindings(
        ova({
          manifest: manifest(
            [entry('app.ovf', 'ok', 'sha1'), entry('disk1.vmdk', 'mismatch'), entry('gone.iso', 'missing')],
            {
              uncovered: ['extra.bin'],
            },
          ),
        }),
      ),
    );
    const mm = m.get(APPLIANCE_CHECKS.manifestMismatch)!;
    assert.equal(mm.status, 'fail');
    assert.equal(mm.severity, 'high');
    assert.deepEqual(mm.evidence, {
      file: 'app.mf',
      line: 1,
      key: 'disk1.vmdk',
      value: `SHA256 expected ${'aa'.repeat(32)}, actual ${'bb'.repeat(32)}`,
    });
    assert.match(mm.message, /disk1\.vmdk \(digest differs\)/);
    assert.match(mm.message, /gone\.iso \(not in the package\)/);
    const weak = m.get(APPLIANCE_CHECKS.manifestWeakDigest)!;
    assert.equal(weak.status, 'fail');
    assert.equal(weak.severity, 'low');
    assert.equal(weak.evidence?.key, 'app.ovf');
    const inc = m.get(APPLIANCE_CHECKS.manifestIncomplete)!;
    assert.equal(inc.status, 'fail');
    assert.match(inc.message, /extra\.bin/);
  });

  it('undecided: digests not verified, or no readable entry', () => {
    const off = byCheck(applianceFindings(ova({ manifest: manifest([entry('a', 'unchecked')]) })));
    assert.equal(off.get(APPLIANCE_CHECKS.manifestMismatch)?.status, 'unknown');
    const empty = byCheck(
      applianceFindings(
        ova({ manifest: manifest([], { problems: [{ line: 1, message: 'not a manifest line' }] }) }),
      ),
    );
    assert.equal(empty.get(APPLIANCE_CHECKS.manifestMismatch)?.status, 'unknown');
    assert.equal(empty.get(APPLIANCE_CHECKS.manifestIncomplete)?.status, 'fail');
    assert.equal(empty.has(APPLIANCE_CHECKS.manifestWeakDigest), false);
  });

  it('invalid signature (high); expired and self-signed certificates', () => {
    const bad = byCheck(
      applianceFindings(
        ova({ signature: signature({ status: 'invalid', reason: 'the SHA256 signature does not verify' }) }),
      ),
    );
    const inv = bad.get(APPLIANCE_CHECKS.signatureInvalid)!;
    assert.equal(inv.status, 'fail');
    assert.equal(inv.severity, 'high');
    assert.equal(inv.message, 'the SHA256 signature does not verify');
    assert.equal(inv.evidence?.file, 'app.cert');

    const old = byCheck(
      applianceFindings(
        ova({
          signature: signature({
            certificates: [cert({ expired: true, validTo: '2021-01-01T00:00:00.000Z' })],
          }),
        }),
      ),
    );
    assert.equal(old.get(APPLIANCE_CHECKS.certExpired)?.status, 'fail');
    assert.match(old.get(APPLIANCE_CHECKS.certExpired)!.message, /signing certificate expired on 2021-01-01/);

    const self = byCheck(
      applianceFindings(
        ova({
          signature: signature({
            certificates: [cert({ selfSigned: true, issuer: 'CN=Vendor Signing' })],
            chain: { path: [0], complete: true, trusted: false, problems: [] },
          }),
        }),
      ),
    );
    assert.equal(self.get(APPLIANCE_CHECKS.certSelfSigned)?.status, 'fail');
    assert.equal(self.get(APPLIANCE_CHECKS.certSelfSigned)?.evidence?.value, 'AA:BB');
    // Self-signed says it all: no separate trust finding.
    assert.equal(self.has(APPLIANCE_CHECKS.certUntrusted), false);

    const loose = byCheck(
      applianceFindings(
        ova({
          signature: signature({
            chain: {
              path: [0],
              complete: false,
              trusted: false,
              problems: ['no certificate of the file issued CN=Vendor Signing'],
            },
          }),
        }),
      ),
    );
    assert.equal(loose.get(APPLIANCE_CHECKS.certUntrusted)?.status, 'fail');
    assert.match(loose.get(APPLIANCE_CHECKS.certUntrusted)!.message, /no certificate of the file issued/);
  });

  it('package problems: errors fail the check, warnings alone do not', () => {
    const damaged = byCheck(
      applianceFindings(
        ova({
          problems: [
            { level: 'warning', message: 'the descriptor is not the first member' },
            {
              level: 'error',
              message: 'archive: header checksum mismatch',
              file: '/images/app.ova',
              offset: 10240,
            },
          ],
        }),
      ),
    ).get(APPLIANCE_CHECKS.packageDamaged)!;
    assert.equal(damaged.status, 'fail');
    assert.deepEqual(damaged.evidence, {
      file: '/images/app.ova',
      value: 'archive: header checksum mismatch',
      offset: 10240,
    });
    const fine = byCheck(applianceFindings(ova({ problems: [{ level: 'warning', message: 'w' }] })));
    assert.equal(fine.get(APPLIANCE_CHECKS.packageDamaged)?.status, 'pass');
  });
});
