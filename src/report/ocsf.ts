/**
 * OCSF 1.3.0 Compliance Finding events (class 2003, category Findings): one event per finding, as a JSON array.
 * A target that could not be read becomes one event of its own with compliance status Warning, so an unreadable
 * target is never mistaken for a clean one.
 */
import { fingerprint, type Finding, type FindingStatus, type Severity } from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { findingsOf, httpUrl, referenceLabel, standardName } from './common.js';
import type { Writer } from './types.js';

export const OCSF_VERSION = '1.3.0';
const CLASS_UID = 2003;
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
 * finding may hide a fail or an unknown, so its compliance result is Other, `Waived`.
 */
const STATUS: Readonly<Record<FindingStatus, { id: number; name: string; compliance: [number, string] }>> = {
  fail: { id: 1, name: 'New', compliance: [3, 'Fail'] },
  unknown: { id: 1, name: 'New', compliance: [2, 'Warning'] },
  waived: { id: 3, name: 'Suppressed', compliance: [99, 'Waived'] },
  pass: { id: 4, name: 'Resolved', compliance: [1, 'Pass'] },
};

export interface OcsfComplianceFinding {
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
  compliance: {
    standards: string[];
    control: string;
    requirements?: string[];
    status: string;
    status_id: number;
    status_code: string;
    status_detail: string;
  };
  resources: Array<{ uid: string; name: string; type: string; labels: string[] }>;
  remediation?: { desc: string; references?: string[] };
  unmapped: { hyperward: Record<string, unknown> };
}

function eventOf(f: Finding, r: ScanResult, time: number, report: ScanReport): OcsfComplianceFinding {
  const [severityId, severityName] = SEVERITY[f.severity];
  const st = STATUS[f.status];
  const refs = f.references ?? [];
  const standards = [...new Set(refs.map(standardName).filter((s): s is string => s !== undefined))];
  const requirements = refs.filter((ref) => standardName(ref) !== undefined).map(referenceLabel);
  const urls = [...new Set(refs.map((ref) => httpUrl(ref.url)).filter((u): u is string => u !== undefined))];
  const code = f.status.toUpperCase();
  const ev: OcsfComplianceFinding = {
    activity_id: ACTIVITY_CREATE,
    activity_name: 'Create',
    category_uid: CATEGORY_UID,
    category_name: 'Findings',
    class_uid: CLASS_UID,
    class_name: 'Compliance Finding',
    type_uid: CLASS_UID * 100 + ACTIVITY_CREATE,
    type_name: 'Compliance Finding: Create',
    severity_id: severityId,
    severity: severityName,
    time,
    message: f.message,
    status_id: st.id,
    status: st.name,
    status_code: code,
    status_detail: f.message,
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
  if (f.remediation)
    ev.remediation = { desc: f.remediation, ...(urls.length > 0 ? { references: urls } : {}) };
  return ev;
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
export function toOcsf(report: ScanReport): OcsfComplianceFinding[] {
  const parsed = Date.parse(report.createdAt);
  const time = Number.isFinite(parsed) ? parsed : 0;
  const events = findingsOf(report).map(({ finding, result }) => eventOf(finding, result, time, report));
  for (const r of report.results) if (r.error) events.push(eventOf(targetErrorFinding(r), r, time, report));
  return events;
}

/** OCSF 1.3.0 Compliance Finding events as a JSON array (AWS Security Lake, SIEMs). */
export const ocsfWriter: Writer = {
  format: 'ocsf',
  extension: 'ocsf.json',
  write: (report) => JSON.stringify(toOcsf(report), null, 2) + '\n',
};
