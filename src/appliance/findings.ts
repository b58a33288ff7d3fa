/**
 * Findings for a virtual appliance's package integrity: manifest present, complete, matching and strong; package
 * signed, signature valid, certificate current, not self-signed, chained to a trusted root; archive sound.
 *
 * Every check whose input exists gives one finding, a pass included, so a report shows what was verified and not
 * only what failed; a check that could not be decided is `unknown` and says why. Fingerprints depend on the check
 * and the appliance only, so waivers and diffs hold from one scan to the next.
 */
import { fingerprint, type Evidence, type Finding, type Severity } from '../model/finding.js';
import type { Ova } from './ova.js';

/** The check ids, stable across releases. */
export const APPLIANCE_CHECKS = Object.freeze({
  manifestMissing: 'appliance.manifest-missing',
  manifestMismatch: 'appliance.manifest-mismatch',
  manifestIncomplete: 'appliance.manifest-incomplete',
  manifestWeakDigest: 'appliance.manifest-weak-digest',
  unsigned: 'appliance.unsigned',
  signatureInvalid: 'appliance.signature-invalid',
  certExpired: 'appliance.cert-expired',
  certSelfSigned: 'appliance.cert-self-signed',
  certUntrusted: 'appliance.cert-untrusted',
  packageDamaged: 'appliance.package-damaged',
});

export interface ApplianceFindingOptions {
  /** The resource id (default: the path the appliance was opened from). */
  target?: string;
}

/** Most items named in one message; the rest are counted. */
const MAX_LISTED = 10;

function list(items: string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}

/** Dates of a certificate, as `CertificateInfo` and the report's `ApplianceCertificate` both carry them. */
export interface CertificateDates {
  subject: string;
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
}

/** What the certificate-validity check reads: the certificate file, its signer, and the chain (signer first). */
export interface CertificateValidityInput<C extends CertificateDates> {
  file: string;
  signer: C;
  chain: readonly C[];
}

/** Whether a certificate is outside its validity period at `now` (an unreadable date counts as within). */
export function validityAt(now: Date): (c: CertificateDates) => 'expired' | 'not-yet-valid' | undefined {
  const t = now.getTime();
  return (c) => {
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    if (!Number.isNaN(to) && t > to) return 'expired';
    if (!Number.isNaN(from) && t < from) return 'not-yet-valid';
    return undefined;
  };
}

/**
 * The `appliance.cert-expired` finding: fails when the signer or a certificate of its chain is outside its
 * validity period as `stale` judges it. Separate from `applianceFindings` because it depends on the moment of the
 * scan: a scan cache keeps what an appliance holds and judges this again, at its own `now` (with `validityAt`).
 */
export function certificateValidityFinding<C extends CertificateDates>(
  input: CertificateValidityInput<C>,
  stale: (c: C) => 'expired' | 'not-yet-valid' | undefined,
  target: string,
): Finding {
  const checkId = APPLIANCE_CHECKS.certExpired;
  const title = 'Appliance signing certificate expired';
  const base = {
    id: fingerprint(checkId, 'appliance', target),
    checkId,
    severity: 'medium' as const,
    title,
    resource: { type: 'appliance', id: target },
    platform: 'image',
  };
  const { signer, file } = input;
  const bad = input.chain.map((c) => ({ c, why: stale(c) })).find((x) => x.why !== undefined);
  if (bad !== undefined) {
    const c = bad.c;
    const who = c === signer ? 'the signing certificate' : `certificate ${c.subject} of the chain`;
    return {
      ...base,
      status: 'fail',
      message: `${who} ${bad.why === 'expired' ? `expired on ${c.validTo}` : `is not valid before ${c.validFrom}`}`,
      evidence: { file, key: c.subject, value: `valid ${c.validFrom} to ${c.validTo}` },
      remediation: 'Ask the vendor for a package signed with a current certificate.',
    };
  }
  return {
    ...base,
    status: 'pass',
    message: `the signing certificate is valid until ${signer.validTo}`,
    evidence: { file, key: signer.subject, value: `valid ${signer.validFrom} to ${signer.validTo}` },
  };
}

/**
 * The integrity findings of an opened appliance (see the module comment for the checks).
 *
 * @example
 * const ova = openOva('appliance.ova');
 * const findings = applianceFindings(ova);
 */
export function applianceFindings(ova: Ova, opts: ApplianceFindingOptions = {}): Finding[] {
  const target = opts.target ?? ova.path;
  const out: Finding[] = [];
  const make = (
    checkId: string,
    severity: Severity,
    status: Finding['status'],
    title: string,
    message: string,
    extra: { evidence?: Evidence; remediation?: string } = {},
  ): void => {
    const f: Finding = {
      id: fingerprint(checkId, 'appliance', target),
      checkId,
      severity,
      status,
      title,
      message,
      resource: { type: 'appliance', id: target },
      platform: 'image',
    };
    if (extra.evidence) f.evidence = extra.evidence;
    if (extra.remediation) f.remediation = extra.remediation;
    out.push(f);
  };

  // ---- the archive and descriptor ------------------------------------------------------------------------
  const errors = ova.problems.filter((p) => p.level === 'error');
  const damagedTitle = 'Appliance package damaged or inconsistent';
  if (errors.length > 0) {
    const first = errors[0]!;
    const ev: Evidence = { file: first.file ?? ova.path, value: first.message };
    if (first.offset !== undefined) ev.offset = first.offset;
    if (first.line !== undefined) ev.line = first.line;
    make(
      APPLIANCE_CHECKS.packageDamaged,
      'medium',
      'fail',
      damagedTitle,
      `${errors.length} problem(s): ${list(errors.map((e) => e.message))}`,
      {
        evidence: ev,
        remediation: 'Obtain the appliance again from the vendor and compare it with the published checksum.',
      },
    );
  } else {
    make(
      APPLIANCE_CHECKS.packageDamaged,
      'medium',
      'pass',
      damagedTitle,
      'archive, descriptor and references are consistent',
    );
  }

  // ---- manifest ------------------------------------------------------------------------------------------
  const m = ova.manifest;
  const mfTitle = 'Appliance has no manifest';
  if (m === undefined) {
    make(
      APPLIANCE_CHECKS.manifestMissing,
      'medium',
      'fail',
      mfTitle,
      'the package has no .mf manifest: nothing records what its files should hash to',
      {
        evidence: { file: ova.path, key: 'manifest', value: 'absent' },
        remediation:
          'Ask the vendor for a package with a SHA-256 manifest, or verify the download against a published checksum.',
      },
    );
  } else {
    make(APPLIANCE_CHECKS.manifestMissing, 'medium', 'pass', mfTitle, `manifest ${m.name} present`, {
      evidence: { file: m.name },
    });
    const bad = m.entries.filter(
      (e) => e.status === 'mismatch' || e.status === 'missing' || e.status === 'unreadable',
    );
    const unchecked = m.entries.filter((e) => e.status === 'unchecked');
    const mmTitle = 'Appliance file does not match its manifest';
    if (bad.length > 0) {
      const b = bad[0]!;
      const ev: Evidence = {
        file: m.name,
        line: b.line,
        key: b.file,
        value: `${b.algorithmName} expected ${b.expected}`,
      };
      if (b.actual !== undefined) ev.value += `, actual ${b.actual}`;
      make(
        APPLIANCE_CHECKS.manifestMismatch,
        'high',
        'fail',
        mmTitle,
        `${bad.length} file(s) fail verification: ${list(bad.map((e) => `${e.file} (${e.status === 'mismatch' ? 'digest differs' : e.status === 'missing' ? 'not in the package' : `unreadable${e.error !== undefined ? `: ${e.error}` : ''}`})`))}`,
        {
          evidence: ev,
          remediation:
            'Do not deploy: the package was altered or damaged after the manifest was written. Obtain it again from the vendor.',
        },
      );
    } else if (m.entries.length === 0) {
      make(
        APPLIANCE_CHECKS.manifestMismatch,
        'high',
        'unknown',
        mmTitle,
        `the manifest lists no readable entry (${list(m.problems.map((p) => p.message))})`,
        {
          evidence: { file: m.name },
        },
      );
    } else if (unchecked.length > 0) {
      make(
        APPLIANCE_CHECKS.manifestMismatch,
        'high',
        'unknown',
        mmTitle,
        `${unchecked.length} digest(s) not verified (verification was turned off)`,
        {
          evidence: { file: m.name },
        },
      );
    } else {
      make(
        APPLIANCE_CHECKS.manifestMismatch,
        'high',
        'pass',
        mmTitle,
        `all ${m.entries.length} file(s) match the manifest`,
        {
          evidence: { file: m.name },
        },
      );
    }
    const incTitle = 'Appliance files not covered by the manifest';
    if (m.uncovered.length > 0 || m.problems.length > 0) {
      const parts: string[] = [];
      if (m.uncovered.length > 0) parts.push(`not listed: ${list(m.uncovered)}`);
      if (m.problems.length > 0)
        parts.push(
          `unreadable lines: ${list(m.problems.map((p) => (p.line !== undefined ? `line ${p.line}: ${p.message}` : p.message)))}`,
        );
      const ev: Evidence = { file: m.name };
      if (m.uncovered[0] !== undefined) ev.key = m.uncovered[0];
      else if (m.problems[0]?.line !== undefined) ev.line = m.problems[0].line;
      make(APPLIANCE_CHECKS.manifestIncomplete, 'medium', 'fail', incTitle, parts.join('; '), {
        evidence: ev,
        remediation: 'Every file of the package, the descriptor included, should be listed in the manifest.',
      });
    } else {
      make(
        APPLIANCE_CHECKS.manifestIncomplete,
        'medium',
        'pass',
        incTitle,
        'every file of the package is listed',
      );
    }
    const weak = m.entries.filter((e) => e.algorithm === 'sha1');
    const weakTitle = 'Appliance manifest uses SHA-1';
    if (weak.length > 0) {
      make(
        APPLIANCE_CHECKS.manifestWeakDigest,
        'low',
        'fail',
        weakTitle,
        `${weak.length} of ${m.entries.length} entries use SHA-1, which is no longer collision-resistant`,
        {
          evidence: { file: m.name, line: weak[0]!.line, key: weak[0]!.file, value: weak[0]!.algorithmName },
          remediation:
            'Ask the vendor for an OVF 2.x package with SHA-256 or SHA-512 digests (ovftool --shaAlgorithm=SHA256).',
        },
      );
    } else if (m.entries.length > 0) {
      make(
        APPLIANCE_CHECKS.manifestWeakDigest,
        'low',
        'pass',
        weakTitle,
        `digests: ${[...new Set(m.entries.map((e) => e.algorithmName))].join(', ')}`,
      );
    }
  }

  // ---- signature -----------------------------------------------------------------------------------------
  const s = ova.signature;
  const unsignedTitle = 'Appliance is not signed';
  if (s === undefined) {
    make(
      APPLIANCE_CHECKS.unsigned,
      'medium',
      'fail',
      unsignedTitle,
      'the package has no .cert file: who built it cannot be verified',
      {
        evidence: { file: ova.path, key: 'certificate', value: 'absent' },
        remediation:
          "Prefer vendor-signed appliances, or verify the download against the vendor's published checksum.",
      },
    );
    return out;
  }
  make(APPLIANCE_CHECKS.unsigned, 'medium', 'pass', unsignedTitle, `signed (${s.name})`, {
    evidence: { file: s.name },
  });
  const sigTitle = 'Appliance signature is invalid';
  if (s.status === 'invalid') {
    make(
      APPLIANCE_CHECKS.signatureInvalid,
      'high',
      'fail',
      sigTitle,
      s.reason ?? 'the signature does not verify',
      {
        evidence: {
          file: s.name,
          key: s.signedFile ?? 'signature',
          value: s.algorithm ?? 'unknown algorithm',
        },
        remediation:
          'Do not deploy: the manifest was changed after signing, or the signature is forged. Obtain the package again from the vendor.',
      },
    );
  } else {
    make(
      APPLIANCE_CHECKS.signatureInvalid,
      'high',
      'pass',
      sigTitle,
      `the ${s.algorithm} signature over ${s.signedFile} verifies${s.reason !== undefined ? ` (${s.reason})` : ''}`,
      {
        evidence: { file: s.name, key: s.signedFile ?? 'signature' },
      },
    );
  }
  const signer = s.certificates[s.signer ?? 0];
  if (signer === undefined) return out;
  const chainCerts = s.chain.path.map((i) => s.certificates[i]).filter((c) => c !== undefined);
  out.push(
    certificateValidityFinding(
      { file: s.name, signer, chain: chainCerts },
      (c) => (c.expired ? 'expired' : c.notYetValid ? 'not-yet-valid' : undefined),
      target,
    ),
  );
  const selfTitle = 'Appliance signed with a self-signed certificate';
  if (signer.selfSigned) {
    make(
      APPLIANCE_CHECKS.certSelfSigned,
      'low',
      'fail',
      selfTitle,
      `the signing certificate ${signer.subject} is self-signed: anyone can make one`,
      {
        evidence: { file: s.name, key: signer.subject, value: signer.fingerprint256 },
        remediation:
          "Trust the package only if the certificate's fingerprint matches one the vendor publishes.",
      },
    );
    return out;
  }
  make(
    APPLIANCE_CHECKS.certSelfSigned,
    'low',
    'pass',
    selfTitle,
    `the signing certificate is issued by ${signer.issuer}`,
    {
      evidence: { file: s.name, key: signer.subject },
    },
  );
  const trustTitle = 'Appliance certificate does not chain to a trusted root';
  if (s.chain.trusted) {
    make(
      APPLIANCE_CHECKS.certUntrusted,
      'low',
      'pass',
      trustTitle,
      `the chain reaches the trusted root ${s.chain.root ?? ''}`.trim(),
      {
        evidence: { file: s.name, key: signer.subject },
      },
    );
  } else {
    make(
      APPLIANCE_CHECKS.certUntrusted,
      'low',
      'fail',
      trustTitle,
      `the chain (${chainCerts.map((c) => c.subject).join(' <- ')}) ${s.chain.problems.length > 0 ? `stops: ${list(s.chain.problems)}` : 'reaches no trusted root'}`,
      {
        evidence: { file: s.name, key: signer.subject, value: signer.issuer },
        remediation: "Check the issuing CA against the vendor's documentation before trusting the package.",
      },
    );
  }
  return out;
}
