import { fingerprint, type Finding, type Reference } from '../model/finding.js';
import type { HostInventory } from '../model/host.js';
import type { Profile } from './profile.js';
import { selectChecks } from './profile.js';
import type { Check, CheckMeta } from './types.js';

/** Framework references of a check as report references, with links where a framework has stable URLs. */
export function referencesOf(meta: CheckMeta): Reference[] {
  const r = meta.references;
  const out: Reference[] = [];
  for (const id of r.nist800125a ?? []) {
    out.push({ type: 'nist-800-125a', id, url: 'https://csrc.nist.gov/pubs/sp/800/125/a/r1/final' });
  }
  for (const id of r.stig ?? []) out.push({ type: 'disa-stig', id });
  if (r.vmwareScg) out.push({ type: 'vmware-scg', id: r.vmwareScg });
  for (const id of r.cis ?? []) out.push({ type: 'cis', id });
  for (const url of r.urls ?? []) out.push({ type: 'url', id: url, url });
  return out;
}

/**
 * Runs the checks a profile selects over one inventory. Every outcome becomes a finding (passes too, so a
 * report is evidence of what was checked); files that could not be read become `unknown` findings of their own.
 */
export function assess(inv: HostInventory, catalogue: readonly Check[], profile: Profile): Finding[] {
  const findings: Finding[] = [];
  for (const { check, params } of selectChecks(catalogue, profile)) {
    const outcomes = check.run(inv, { params });
    for (const o of outcomes) {
      const f: Finding = {
        id: fingerprint(check.meta.id, o.resource.type, `${inv.name}/${o.resource.id}`),
        checkId: check.meta.id,
        severity: check.meta.severity,
        status: o.status,
        title: check.meta.title,
        message: o.message,
        resource: o.resource,
        remediation: check.meta.remediation,
        references: referencesOf(check.meta),
        platform: check.meta.platform,
      };
      if (o.evidence) f.evidence = o.evidence;
      findings.push(f);
    }
  }
  for (const u of inv.unreadable) {
    findings.push({
      id: fingerprint('hyperward.unreadable', 'file', `${inv.name}/${u.file}`),
      checkId: 'hyperward.unreadable',
      severity: 'medium',
      status: 'unknown',
      title: 'Configuration file could not be read',
      message: `${u.message} [${u.code}]`,
      resource: { type: 'file', id: u.file },
      evidence: { file: u.file },
    });
  }
  return findings;
}
