/** One finding type for every analyzer. Types and the fingerprint only; no I/O. */
import { createHash } from 'node:crypto';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

/**
 * `fail`: the problem is there. `unknown`: could not decide. `pass`: checked and fine. `waived`: an accepted risk
 * (owner, expiry). `suppressed`: a VEX statement says the product is not affected, or fixed.
 */
export type FindingStatus = 'fail' | 'unknown' | 'pass' | 'waived' | 'suppressed';

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
  /** Set on vulnerability findings (check id = the vulnerability id). */
  vulnerability?: VulnerabilityInfo;
}

/** A CVSS vector with the scores computed from it. */
export interface CvssScore {
  version: '2.0' | '3.0' | '3.1' | '4.0';
  vector: string;
  baseScore: number;
  /** The qualitative rating of `baseScore` (CVSS v3/v4 table; v2 uses the NVD bands). */
  severity: Severity;
}

/** What a vulnerability finding says beyond the common fields. */
export interface VulnerabilityInfo {
  /** The vulnerability: a CVE id where the records name one, else the advisory id. */
  id: string;
  /** Every other id the matching records carry: advisories (DSA, USN, RHSA...), GHSA, upstream. */
  aliases: string[];
  /** The records that matched, with the feed each came from (`osv`, `debian-tracker`, `alpine-secdb`). */
  advisories: Array<{ id: string; origin: string; ecosystem: string }>;
  package: {
    name: string;
    version: string;
    arch: string;
    /** `cpe`: an appliance's product, matched by CPE against NVD records (`name` is the product). */
    ecosystem: 'deb' | 'rpm' | 'apk' | 'cpe';
    sourceName: string;
    sourceVersion: string;
    /** The package URL of the installed package (the component `affects` refers to); '' for a CPE match. */
    purl: string;
    /** For a CPE match: the CPE 2.3 name that matched. */
    cpe?: string;
  };
  /** The name the advisories key on: the source package (Debian, Ubuntu, Alpine) or the binary (RPM). */
  matchedName: string;
  installedVersion: string;
  /** Undefined: no fix yet. */
  fixedVersion?: string;
  /** `fixed`: a fixed version exists; `not-fixed`: none yet; `wont-fix`: the distro decided not to fix. */
  fixState: 'fixed' | 'not-fixed' | 'wont-fix';
  cvss: CvssScore[];
  /** The distro's own rating as it wrote it (`high`, `Important`, `unimportant`...), and whose it is. */
  distroSeverity?: { source: string; rating: string };
  /** Where `severity` came from: `distro`, `cvss`, or `none` (no rating at all: medium is assumed). */
  severitySource: 'distro' | 'cvss' | 'none';
  published?: string;
  modified?: string;
  /** Set when a VEX statement applies (status `suppressed` for `not_affected` and `fixed`). */
  vex?: VexApplied;
}

/** A VEX statement applied to a finding, kept in the report. */
export interface VexApplied {
  status: 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
  /** OpenVEX justification or CycloneDX `analysis.justification`. */
  justification?: string;
  /** Free-text impact statement / detail. */
  statement?: string;
  /** The VEX document it came from. */
  document: string;
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
