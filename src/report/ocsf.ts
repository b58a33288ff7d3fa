/**
 * OCSF 1.3.0 finding events (category Findings), one per finding, as a JSON array: configuration checks are
 * Compliance Findings (class 2003), vulnerability findings are Vulnerability Findings (class 2002) with the CVE,
 * its CVSS scores and the affected package. A target that could not be read becomes one Compliance Finding of its
 * own with compliance status Warning, so an unreadable target is never mistaken for a clean one.
 */
import {
  fingerprint,
  type CvssScore,
  type Finding,
  type FindingStatus,
  type Severity,
  type VulnerabilityInfo,
} from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { findingsOf, httpUrl, referenceLabel, standardName } from './common.js';
import { writeJson } from './json-text.js';
import type { Writer } from './types.js';
import {
  isVulnerability,
  upgradeAdvice,
  versionParts,
  vexReason,
  vulnSource,
  vulnUrls,
  type VulnerabilityFinding,
} from './vulnerability.js';

export const OCSF_VERSION = '1.3.0';
const CLASS_UID = 2003;
const VULNERABILITY_CLASS_UID = 2002;
const CATEGORY_UID = 2;
const ACTIVITY_CREATE = 1;

/** OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical. */
const SEVERITY: Readonly<Record<Severity, [number, string]>> = {
  info: [1, 'Informational'],
  low: [2, 'Low'],
  medium: [3, 'Medium'],
  high: [4, 'High'],
  critical: [5, 'Critical'],
};

/**
 * The finding's workflow status (`status_id`: 1 New, 3 Suppressed, 4 Resolved) and the compliance result
 * (`compliance.status_id`: 1 Pass, 2 Warning = no result for missing information, 3 Fail, 99 Other). A waived
 * finding may hide a fail or an unknown, so its compliance result is Other, `Waived`; a finding a VEX statement
 * suppresses is workflow status Suppressed too.
 */
const STATUS: Readonly<Record<FindingStatus, { id: number; name: string; compliance: [number, string] }>> = {
  fail: { id: 1, name: 'New', compliance: [3, 'Fail'] },
  unknown: { id: 1, name: 'New', compliance: [2, 'Warning'] },
  waived: { id: 3, name: 'Suppressed', compliance: [99, 'Waived'] },
  suppressed: { id: 3, name: 'Suppressed', compliance: [99, 'Suppressed'] },
  pass: { id: 4, name: 'Resolved', compliance: [1, 'Pass'] },
};

/** What every finding event of Hyperward has, whatever its class. */
interface OcsfFindingBase {
  activity_id: number;
  activity_name: string;
  category_uid: number;
  category_name: string;
  class_uid: number;
  class_name: string;
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  time: number;
  message: string;
  status_id: number;
  status: string;
  status_code: string;
  status_detail: string;
  metadata: {
    version: string;
    product: { name: string; vendor_name: string; version: string; url_string: string };
    profiles: string[];
  };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    created_time: number;
    types: string[];
    src_url?: string;
  };
  resources: Array<{ uid: string; name: string; type: string; labels: string[] }>;
  unmapped: { hyperward: Record<string, unknown> };
}

/** OCSF Compliance Finding (class 2003): a configuration check's outcome. */
export interface OcsfComplianceFinding extends OcsfFindingBase {
  class_uid: 2003;
  compliance: {
    standards: string[];
    control: string;
    requirements?: string[];
    status: string;
    status_id: number;
    status_code: string;
    status_detail: string;
  };
  remediation?: { desc: string; references?: string[] };
}

/** OCSF `cvss` object. */
export interface OcsfCvss {
  version: string;
  base_score: number;
  vector_string: string;
  severity: string;
  depth: 'Base';
}

/** OCSF `affected_package` object: `version` without epoch and release, which have fields of their own. */
export interface OcsfAffectedPackage {
  name: string;
  version: string;
  epoch?: number;
  release?: string;
  fixed_in_version?: string;
  purl: string;
  architecture: string;
  package_manager: string;
  type: string;
  type_id: number;
}

/** OCSF Vulnerability Finding (class 2002): one vulnerability of one package of one target. */
export interface OcsfVulnerabilityFinding extends OcsfFindingBase {
  class_uid: 2002;
  vulnerabilities: Array<{
    cve: {
      uid: string;
      title: string;
      cvss?: OcsfCvss[];
      references?: string[];
      created_time?: number;
      modified_time?: number;
    };
    affected_packages: OcsfAffectedPackage[];
    severity: string;
    title: string;
    desc: string;
    references?: string[];
    related_vulnerabilities?: string[];
    is_fix_available: boolean;
    vendor_name: string;
    remediation?: { desc: string; references?: string[] };
  }>;
}

/** Any event the OCSF writer emits. */
export type OcsfEvent = OcsfComplianceFinding | OcsfVulnerabilityFinding;

function eventOf(f: Finding, r: ScanResult, time: number, report: ScanReport): OcsfComplianceFinding {
  const st = STATUS[f.status];
  const refs = f.references ?? [];
  const standards = [...new Set(refs.map(standardName).filter((s): s is string => s !== undefined))];
  const requirements = refs.filter((ref) => standardName(ref) !== undefined).map(referenceLabel);
  const urls = [...new Set(refs.map((ref) => httpUrl(ref.url)).filter((u): u is string => u !== undefined))];
  const code = f.status.toUpperCase();
  const ev: OcsfComplianceFinding = {
    ...base(f, r, time, report),
    class_uid: CLASS_UID,
    class_name: 'Compliance Finding',
    type_uid: CLASS_UID * 100 + ACTIVITY_CREATE,
    type_name: 'Compliance Finding: Create',
    finding_info: {
      uid: f.id,
      title: f.title,
      desc: f.message,
      created_time: time,
      types: [f.checkId],
      ...(urls[0] ? { src_url: urls[0] } : {}),
    },
    compliance: {
      // `standards` is required: a check with no framework mapping is measured against Hyperward's own catalogue.
      standards: standards.length > 0 ? standards : ['Hyperward'],
      control: f.checkId,
      ...(requirements.length > 0 ? { requirements } : {}),
      status: st.compliance[1],
      status_id: st.compliance[0],
      status_code: code,
      status_detail: f.message,
    },
  };
  if (f.remediation)
    ev.remediation = { desc: f.remediation, ...(urls.length > 0 ? { references: urls } : {}) };
  return ev;
}

/** The attributes every event shares; `finding_info` and the class fields are the caller's. */
function base(
  f: Finding,
  r: ScanResult,
  time: number,
  report: ScanReport,
): Omit<OcsfFindingBase, 'class_uid' | 'class_name' | 'type_uid' | 'type_name' | 'finding_info'> {
  const [severityId, severityName] = SEVERITY[f.severity];
  const st = STATUS[f.status];
  const vex = f.vulnerability?.vex;
  return {
    activity_id: ACTIVITY_CREATE,
    activity_name: 'Create',
    category_uid: CATEGORY_UID,
    category_name: 'Findings',
    severity_id: severityId,
    severity: severityName,
    time,
    message: f.message,
    status_id: st.id,
    status: st.name,
    status_code: f.status.toUpperCase(),
    status_detail: f.status === 'suppressed' && vex ? vexReason(vex) : f.message,
    metadata: {
      version: OCSF_VERSION,
      product: {
        name: 'Hyperward',
        vendor_name: 'Hyperward',
        version: report.tool.version,
        url_string: 'https://www.npmjs.com/package/hyperward',
      },
      profiles: [],
    },
    resources: [
      {
        uid: f.resource.id,
        name: f.resource.id,
        type: f.resource.type,
        labels: [`target:${r.target}`, ...(f.platform ? [`platform:${f.platform}`] : [])],
      },
    ],
    unmapped: {
      hyperward: {
        target: r.target,
        target_kind: r.kind,
        check_id: f.checkId,
        ...(f.platform ? { platform: f.platform } : {}),
        ...(f.evidence ? { evidence: f.evidence } : {}),
        ...(f.waiver ? { waiver: f.waiver } : {}),
      },
    },
  };
}

const CVSS_SEVERITY: Readonly<Record<Severity, string>> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  info: 'None',
};

function cvssOf(c: CvssScore): OcsfCvss {
  return {
    version: c.version,
    base_score: c.baseScore,
    vector_string: c.vector,
    severity: CVSS_SEVERITY[c.severity],
    depth: 'Base',
  };
}

const PACKAGE_MANAGER: Readonly<Record<VulnerabilityInfo['package']['ecosystem'], string>> = {
  deb: 'dpkg',
  rpm: 'rpm',
  apk: 'apk',
  cpe: 'cpe',
};

/** Milliseconds since the epoch of an ISO date, or undefined when it is not one. */
function timestampOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : undefined;
}

function vulnerabilityEventOf(
  f: VulnerabilityFinding,
  r: ScanResult,
  time: number,
  report: ScanReport,
): OcsfVulnerabilityFinding {
  const v = f.vulnerability;
  const urls = vulnUrls(f);
  const parts = versionParts(v.installedVersion);
  const cvss = v.cvss.filter((c) => Number.isFinite(c.baseScore)).map(cvssOf);
  const created = timestampOf(v.published);
  const modified = timestampOf(v.modified);
  const advice = upgradeAdvice(v);
  const ev = base(f, r, time, report);
  ev.unmapped.hyperward = {
    ...ev.unmapped.hyperward,
    installed_version: v.installedVersion,
    fix_state: v.fixState,
    matched_name: v.matchedName,
    severity_source: v.severitySource,
    advisories: v.advisories,
    ...(v.distroSeverity ? { distro_severity: v.distroSeverity } : {}),
    ...(v.vex ? { vex: v.vex } : {}),
  };
  return {
    ...ev,
    class_uid: VULNERABILITY_CLASS_UID,
    class_name: 'Vulnerability Finding',
    type_uid: VULNERABILITY_CLASS_UID * 100 + ACTIVITY_CREATE,
    type_name: 'Vulnerability Finding: Create',
    finding_info: {
      uid: f.id,
      title: f.title || v.id,
      desc: f.message,
      created_time: time,
      types: ['Vulnerability'],
      ...(urls[0] ? { src_url: urls[0] } : {}),
    },
    vulnerabilities: [
      {
        cve: {
          uid: v.id,
          title: f.title || v.id,
          ...(cvss.length > 0 ? { cvss } : {}),
          ...(urls.length > 0 ? { references: urls } : {}),
          ...(created !== undefined ? { created_time: created } : {}),
          ...(modified !== undefined ? { modified_time: modified } : {}),
        },
        affected_packages: [
          {
            name: v.package.name,
            version: parts.version,
            ...(parts.epoch !== undefined ? { epoch: parts.epoch } : {}),
            ...(parts.release !== undefined ? { release: parts.release } : {}),
            ...(v.fixedVersion !== undefined ? { fixed_in_version: v.fixedVersion } : {}),
            purl: v.package.purl,
            architecture: v.package.arch,
            package_manager: PACKAGE_MANAGER[v.package.ecosystem] ?? v.package.ecosystem,
            // OS packages: type_id 2; an appliance's product matched by CPE: an application, type_id 1.
            ...(v.package.ecosystem === 'cpe'
              ? { type: 'Application', type_id: 1 }
              : { type: 'Operating System', type_id: 2 }),
          },
        ],
        // The vendor's rating: the distribution's own where it gave one.
        severity: v.distroSeverity?.rating ?? SEVERITY[f.severity][1],
        title: f.title || v.id,
        desc: f.message,
        ...(urls.length > 0 ? { references: urls } : {}),
        ...(v.aliases.length > 0 ? { related_vulnerabilities: v.aliases } : {}),
        is_fix_available: v.fixedVersion !== undefined && v.fixedVersion !== '',
        vendor_name: vulnSource(v).name,
        ...((advice ?? f.remediation)
          ? {
              remediation: {
                desc: (advice ?? f.remediation)!,
                ...(urls.length > 0 ? { references: urls } : {}),
              },
            }
          : {}),
      },
    ],
  };
}

function targetErrorFinding(r: ScanResult): Finding {
  return {
    id: fingerprint('hyperward.target-unreadable', 'target', r.target),
    checkId: 'hyperward.target-unreadable',
    severity: 'medium',
    status: 'unknown',
    title: 'Target could not be read',
    message: `${r.error?.message ?? 'unreadable'} [${r.error?.code ?? 'E_INTERNAL'}]`,
    resource: { type: 'target', id: r.target },
  };
}

/** Builds the OCSF events of a report, in report order. */
export function toOcsf(report: ScanReport): OcsfEvent[] {
  const parsed = Date.parse(report.createdAt);
  const time = Number.isFinite(parsed) ? parsed : 0;
  const events: OcsfEvent[] = findingsOf(report).map(({ finding, result }) =>
    isVulnerability(finding)
      ? vulnerabilityEventOf(finding, result, time, report)
      : eventOf(finding, result, time, report),
  );
  for (const r of report.results) if (r.error) events.push(eventOf(targetErrorFinding(r), r, time, report));
  return events;
}

/** OCSF 1.3.0 Compliance and Vulnerability Finding events as a JSON array (AWS Security Lake, SIEMs). */
export const ocsfWriter: Writer = {
  format: 'ocsf',
  extension: 'ocsf.json',
  write: (report) => JSON.stringify(toOcsf(report), null, 2) + '\n',
  stream: (report, _opts, out) => {
    writeJson(toOcsf(report), out);
    out('\n');
  },
};
