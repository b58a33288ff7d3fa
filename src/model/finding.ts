/** One finding type for every analyzer. Types and the fingerprint only; no I/O. */
import { createHash } from 'node:crypto';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export type FindingStatus = 'fail' | 'unknown' | 'pass' | 'waived';

export interface Evidence {
  file?: string;
  layer?: string;
  key?: string;
  value?: string;
  /** 1-based line in `file`. */
  line?: number;
  offset?: number;
  /** The value was not in the file: the platform's default applied. */
  isDefault?: boolean;
}

export interface Reference {
  /** `nist-800-125a`, `disa-stig`, `vmware-scg`, `cis`, `cve`, `url`... */
  type: string;
  id: string;
  url?: string;
}

export interface Finding {
  /** Stable fingerprint of check id + resource, so waivers and diffs work across runs. */
  id: string;
  checkId: string;
  severity: Severity;
  status: FindingStatus;
  title: string;
  message: string;
  resource: { type: string; id: string };
  evidence?: Evidence;
  remediation?: string;
  references?: Reference[];
  /** `kvm`, `proxmox`, `vmware`, or `image`. */
  platform?: string;
  /** Set when a waiver applies (status `waived`) or applied until it expired. */
  waiver?: Waiver & { expired?: boolean };
}

/** An accepted risk: a check on matching resources, justified, owned, and with an end date. */
export interface Waiver {
  check: string;
  resource: string;
  justification: string;
  owner: string;
  /** ISO date `YYYY-MM-DD`; the waiver applies through this day (UTC). */
  expires: string;
}

/** The stable id of a finding: the check and the resource it is about, nothing that changes between runs. */
export function fingerprint(checkId: string, resourceType: string, resourceId: string): string {
  return createHash('sha256').update(`${checkId}\0${resourceType}\0${resourceId}`).digest('hex').slice(0, 16);
}

/** Orders severities from most to least severe; `atLeast('high', 'medium')` is true. */
export function atLeast(sev: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(sev) <= SEVERITIES.indexOf(threshold);
}
