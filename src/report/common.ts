/** Helpers shared by the assessment writers (SARIF, OCSF, JUnit, HTML) and `diff`. Pure functions, no I/O. */
import { SEVERITIES, type Finding, type FindingStatus, type Reference } from '../model/finding.js';
import type { ApplianceInfo } from '../model/inventory.js';
import type { ScanReport, ScanResult } from '../model/report.js';

/** Statuses in report order: what needs attention first. */
export const STATUSES: readonly FindingStatus[] = ['fail', 'unknown', 'waived', 'suppressed', 'pass'];

/**
 * A finding that still needs action: it failed, or the check could not decide. Waived (an accepted risk) and
 * suppressed (a VEX statement says not affected, or fixed) findings are not open.
 */
export function isOpen(f: Pick<Finding, 'status'>): boolean {
  return f.status === 'fail' || f.status === 'unknown';
}

/** Orders findings by status (fail first), severity (critical first), check id, resource id, then finding id. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status) ||
    SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
    cmp(a.checkId, b.checkId) ||
    cmp(a.resource.id, b.resource.id) ||
    cmp(a.id, b.id)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type StatusCounts = Record<FindingStatus, number> & { total: number };

/** Counts findings per status. */
export function countByStatus(findings: Iterable<Pick<Finding, 'status'>>): StatusCounts {
  const c: StatusCounts = { fail: 0, unknown: 0, waived: 0, suppressed: 0, pass: 0, total: 0 };
  for (const f of findings) {
    c[f.status]++;
    c.total++;
  }
  return c;
}

/** Every finding of a report with the result (target) it belongs to, in report order. */
export function findingsOf(report: ScanReport): Array<{ result: ScanResult; finding: Finding }> {
  const out: Array<{ result: ScanResult; finding: Finding }> = [];
  for (const result of report.results) for (const finding of result.findings) out.push({ result, finding });
  return out;
}

const STANDARDS: Readonly<Record<string, string>> = {
  'nist-800-125a': 'NIST SP 800-125A Rev. 1',
  'disa-stig': 'DISA STIG',
  'vmware-scg': 'VMware SCG 8',
  cis: 'CIS',
};

/** The human name of the framework a reference belongs to, or undefined for plain links and CVEs. */
export function standardName(ref: Reference): string | undefined {
  return STANDARDS[ref.type];
}

/** `NIST SP 800-125A Rev. 1 HY-SR-3`, `DISA STIG ESXI-80-000008`, a CVE id, or the URL itself. */
export function referenceLabel(ref: Reference): string {
  const std = standardName(ref);
  if (std) return `${std} ${ref.id}`;
  if (ref.type === 'url') return ref.id;
  return `${ref.type.toUpperCase()} ${ref.id}`;
}

/** The URL as given when it is an absolute http(s) URL, else undefined: nothing else is ever linked. */
export function httpUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/** `file:line` (or just the file), `key = value`, and whether a platform default applied, for humans. */
export function describeEvidence(f: Finding): string[] {
  const e = f.evidence;
  if (!e) return [];
  const out: string[] = [];
  if (e.file !== undefined) {
    let where = e.file;
    if (e.line !== undefined) where += `:${e.line}`;
    else if (e.offset !== undefined) where += ` @ offset ${e.offset}`;
    if (e.layer !== undefined) where += ` (${e.layer})`;
    out.push(where);
  } else if (e.layer !== undefined) {
    out.push(e.layer);
  }
  if (e.key !== undefined || e.value !== undefined) {
    const kv = e.key !== undefined ? `${e.key} = ${e.value ?? ''}` : `value ${e.value ?? ''}`;
    out.push(e.isDefault ? `${kv} (absent: platform default)` : kv);
  } else if (e.isDefault) {
    out.push('absent: platform default');
  }
  return out;
}

/**
 * Characters XML 1.0 cannot carry at all, not even as character references, and that HTML treats as parse
 * errors: C0 controls other than tab, LF and CR, lone surrogates, U+FFFE and U+FFFF.
 */
/* eslint-disable no-control-regex */
const UNREPRESENTABLE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/* eslint-enable no-control-regex */

/* eslint-disable no-control-regex */
/** Characters a terminal acts on: C0 controls (line breaks included), DEL and C1 controls (CSI among them). */
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/* eslint-enable no-control-regex */

/**
 * One line for a terminal: the control characters of `TERMINAL_CONTROL` (from file names, image content) as
 * visible `\\u{…}` escapes, so an escape sequence in a hostile image's file name is shown, never obeyed.
 */
export function terminalSafe(s: string): string {
  return s.replace(TERMINAL_CONTROL, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** Replaces the characters of `UNREPRESENTABLE` by visible `\\u{…}` escapes, so nothing is silently lost. */
export function visible(s: string): string {
  return s.replace(UNREPRESENTABLE, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** One line naming an appliance's product: `Example Gateway 7.2.4 (Example Networks, Inc.)`, else its descriptor. */
export function applianceTitle(a: ApplianceInfo): string {
  if (a.product === undefined) return `${a.kind.toUpperCase()} ${a.descriptor}`;
  const version = a.version ?? a.fullVersion;
  const vendor = a.vendor !== undefined ? ` (${a.vendor})` : '';
  return `${a.product}${version !== undefined ? ` ${version}` : ''}${vendor}`;
}

/**
 * One line on an appliance's package integrity: the manifest (verified, with its digests; failed; absent) and the
 * signature (signer, and whether self-signed, expired, untrusted).
 */
export function applianceIntegrity(a: ApplianceInfo): string {
  const m = a.manifest;
  const algs = m.algorithms.join('/');
  const manifest = {
    verified: `manifest verified (${algs})`,
    failed: `MANIFEST FAILED: ${m.failed.length} file(s) do not match`,
    absent: 'no manifest',
    empty: 'manifest lists nothing readable',
    unchecked: `manifest not checked (${algs})`,
  }[m.status];
  const parts = [m.weak && m.status !== 'failed' ? `${manifest}, weak SHA-1` : manifest];
  const s = a.signature;
  if (s.status === 'unsigned') parts.push('unsigned');
  else {
    const signer = s.chain[0];
    const flags: string[] = [];
    if (signer?.selfSigned) flags.push('self-signed');
    if (s.expired) flags.push('certificate expired');
    if (s.trusted === false && !signer?.selfSigned) flags.push('untrusted chain');
    if (s.trusted === true) flags.push('trusted');
    const who = signer !== undefined ? ` by ${signer.subject}` : '';
    parts.push(
      s.status === 'invalid'
        ? `SIGNATURE INVALID${who}`
        : `signed${who}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`,
    );
  }
  return parts.join('; ');
}
