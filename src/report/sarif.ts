/**
 * SARIF 2.1.0 (OASIS): one run, one rule per check that produced a finding, one result per finding that did not
 * pass (passes are counted in `run.properties.passed`, and written as `kind: pass` only on request: GitHub code
 * scanning caps the results of a run). Undecided checks are `kind: review`; waived findings, and vulnerability
 * findings a VEX statement suppresses, carry an accepted external suppression with its justification; target
 * errors become tool execution notifications. Evidence files of host and image targets (read over SSH, from a
 * directory root or inside a disk image) are relative to a per-target `uriBaseId` declared in
 * `run.originalUriBaseIds`, since they are not files of the machine that ran the scan. A vulnerability gets one
 * rule per vulnerability id, rated by its highest CVSS base score, and each affected package is a logical location
 * of kind `package`. Shaped for GitHub code scanning (`security-severity`, `partialFingerprints`).
 */
import type { Finding, Severity } from '../model/finding.js';
import type { AdvisoryDbStatus, ScanReport, ScanResult } from '../model/report.js';
import { describeEvidence, findingsOf, httpUrl, referenceLabel } from './common.js';
import { writeJson } from './json-text.js';
import type { Writer } from './types.js';
import {
  fixText,
  highestCvss,
  isVulnerability,
  upgradeAdvice,
  versionsText,
  vexReason,
  vulnReferences,
  vulnUrl,
  type VulnerabilityFinding,
} from './vulnerability.js';

export const SARIF_SCHEMA_URI =
  'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
export const SARIF_INFORMATION_URI = 'https://www.npmjs.com/package/hyperward';
/** The key of the stable finding id in `result.partialFingerprints`. */
export const FINGERPRINT_KEY = 'hyperwardFindingId/v1';

/**
 * GitHub code scanning reads `properties.security-severity` (a number from 0.0 to 10.0, written as a string):
 * 9.0 and up is critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. Informational checks get none, so the
 * SARIF `level` alone ranks them.
 */
export const SECURITY_SEVERITY: Readonly<Record<Severity, string | undefined>> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: undefined,
};

type Level = 'none' | 'note' | 'warning' | 'error';
const LEVEL: Readonly<Record<Severity, Level>> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};

interface Text {
  text: string;
}
interface ArtifactLocation {
  uri: string;
  uriBaseId?: string;
}
/** An entry of `run.originalUriBaseIds`: where a target's root is, when it is a local path, and what it is. */
interface BaseLocation {
  uri?: string;
  description: Text;
}
interface SarifLocation {
  physicalLocation?: {
    artifactLocation: ArtifactLocation;
    region?: { startLine?: number; byteOffset?: number };
  };
  logicalLocations?: Array<{ name: string; fullyQualifiedName: string; kind: string }>;
}
export interface SarifRule {
  id: string;
  name: string;
  shortDescription: Text;
  fullDescription: Text;
  help: Text;
  helpUri?: string;
  defaultConfiguration: { level: Level };
  properties: { tags: string[]; 'security-severity'?: string; severity: Severity; platform?: string };
}
export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  kind: 'pass' | 'fail' | 'review';
  level: Level;
  message: Text;
  locations: SarifLocation[];
  partialFingerprints: Record<string, string>;
  suppressions?: Array<{
    kind: 'external';
    status: 'accepted' | 'rejected';
    justification: string;
    /** A waiver: `owner`, `expires`, `expired`. A VEX statement: `vexStatus`, `vexJustification`, `document`. */
    properties: Record<string, string | boolean>;
  }>;
  properties: Record<string, unknown>;
}
export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: Array<{
    tool: {
      driver: {
        name: string;
        version: string;
        semanticVersion: string;
        informationUri: string;
        rules: SarifRule[];
      };
    };
    invocations: Array<{
      executionSuccessful: boolean;
      endTimeUtc?: string;
      toolExecutionNotifications: Array<{
        level: Level;
        message: Text;
        descriptor: { id: string };
        locations: SarifLocation[];
      }>;
    }>;
    originalUriBaseIds?: Record<string, BaseLocation>;
    results: SarifResult[];
    properties: {
      /** Passing findings: counted here, in `results` only with `includePassing`. */
      passed: number;
      passingResults: 'omitted' | 'included';
      targets: Array<{ target: string; kind: string; packages: number; error?: string }>;
      /** The advisory database vulnerabilities were matched against, when the scan looked for them. */
      advisoryDb?: AdvisoryDbStatus;
    };
  }>;
}

export interface SarifOptions {
  /** Why a check matters (its catalogue rationale), for `rule.fullDescription`. Findings do not carry it. */
  rationale?: (checkId: string) => string | undefined;
  /** Write passing findings as `kind: pass` results too. Default false: they are only counted. */
  includePassing?: boolean;
}

/** The `uriBaseId` of the root of the target at `index` of `report.results`. */
export function targetBaseId(index: number): string {
  return `TARGET${index}`;
}

/**
 * Where the files of a host or image target live, for `run.originalUriBaseIds`: a `uri` only for a local directory
 * root (`root:DIR` with an absolute DIR); a host read over SSH or a disk image has no URI on the scanning machine.
 */
function targetBase(target: string, kind: ScanResult['kind']): BaseLocation {
  if (kind === 'image') {
    return { description: { text: `The root filesystem inside the disk image ${target}` } };
  }
  if (target.startsWith('root:')) {
    const dir = target.slice('root:'.length);
    const base: BaseLocation = {
      description: { text: `The directory ${dir}, assessed as a host's root (root:DIR)` },
    };
    if (dir.startsWith('/') || /^[a-z]:[\\/]/i.test(dir)) {
      const uri = toUri(dir);
      base.uri = uri.endsWith('/') ? uri : `${uri}/`;
    }
    return base;
  }
  if (target.startsWith('image:')) {
    return {
      description: { text: `The root filesystem inside the disk image ${target.slice('image:'.length)}` },
    };
  }
  return { description: { text: `The root filesystem of the host ${target}` } };
}

/** An evidence path of a host target: relative to the target's root; URIs (`vsphere://`) are kept as they are. */
function hostArtifact(file: string, baseId: string): ArtifactLocation {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return { uri: toUri(file) };
  // Segment by segment, so that neither a leading slash nor a drive letter makes it absolute.
  const uri = file
    .replace(/\\/g, '/')
    .replace(/^\/+/, '')
    .split('/')
    .map((segment) => toUri(segment))
    .join('/');
  return { uri, uriBaseId: baseId };
}

/**
 * A local path or URI as a SARIF `uri-reference`: URIs (`ssh://`, `vsphere://`) are kept, absolute paths become
 * `file://` URIs, relative paths stay relative, every path segment is percent-encoded.
 */
export function toUri(pathOrUri: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUri)) {
    try {
      return new URL(pathOrUri).href;
    } catch {
      // not a parseable URI: treat it as a path below
    }
  }
  // encodeURIComponent throws on lone surrogates: make the string well-formed first.
  const p = pathOrUri
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/\\/g, '/');
  const encode = (path: string): string =>
    path
      .split('/')
      .map((s) => encodeURIComponent(s))
      .join('/');
  if (/^[a-z]:\//i.test(p)) return `file:///${p.slice(0, 2)}/${encode(p.slice(3))}`;
  if (p.startsWith('/')) return `file://${encode(p)}`;
  return encode(p);
}

/**
 * An absolute http(s) URL as an RFC 3986 `uri` (SARIF's `helpUri` format): WHATWG URL serialisation leaves a few
 * characters RFC 3986 forbids in paths and queries (`[`, `]`, `|`, `^`, a stray `%`...); they are percent-encoded
 * after the origin. Undefined for anything that is not an http(s) URL.
 */
export function helpUri(url: string | undefined): string | undefined {
  const href = httpUrl(url);
  if (href === undefined) return undefined;
  const origin = new URL(href).origin;
  const rest = href
    .slice(origin.length)
    .replace(/%(?![0-9A-Fa-f]{2})/g, '%25')
    .replace(/[^A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]/gu, (c) => encodeURIComponent(c));
  return origin + rest;
}

function ruleOf(f: Finding, rationale: string | undefined): SarifRule {
  const refs = f.references ?? [];
  const helpLines = [f.remediation ?? f.title];
  if (refs.length > 0) {
    helpLines.push('', 'References:');
    for (const r of refs) {
      const url = httpUrl(r.url);
      helpLines.push(`- ${referenceLabel(r)}${url && url !== r.id ? ` <${url}>` : ''}`);
    }
  }
  const tags = [...new Set(['security', ...(f.platform ? [f.platform] : []), ...refs.map(referenceLabel)])];
  const uri = refs.map((r) => helpUri(r.url)).find((u) => u !== undefined);
  const sev = SECURITY_SEVERITY[f.severity];
  return {
    id: f.checkId,
    name: f.checkId,
    shortDescription: { text: f.title },
    fullDescription: { text: rationale ?? f.title },
    help: { text: helpLines.join('\n') },
    ...(uri ? { helpUri: uri } : {}),
    defaultConfiguration: { level: LEVEL[f.severity] },
    properties: {
      tags,
      ...(sev !== undefined ? { 'security-severity': sev } : {}),
      severity: f.severity,
      ...(f.platform ? { platform: f.platform } : {}),
    },
  };
}

/**
 * The rule of a vulnerability: `security-severity` is the highest CVSS base score any of its findings carries
 * (GitHub ranks alerts by it), else the band of its severity; the help lists the fix and every other id.
 */
function vulnRuleOf(f: VulnerabilityFinding, all: readonly VulnerabilityFinding[]): SarifRule {
  const v = f.vulnerability;
  const scores = all.map((x) => highestCvss(x.vulnerability)).filter((x) => x !== undefined);
  const sev = scores.length > 0 ? Math.max(...scores).toFixed(1) : SECURITY_SEVERITY[f.severity];
  const helpLines = [f.title || v.id];
  const advice = [
    ...new Set(
      all.map(
        (x) =>
          upgradeAdvice(x.vulnerability) ?? `${x.vulnerability.package.name}: ${fixText(x.vulnerability)}`,
      ),
    ),
  ];
  helpLines.push('', ...advice);
  const refs = vulnReferences(v);
  if (refs.length > 0 || (f.references ?? []).length > 0) {
    helpLines.push('', 'References:');
    for (const r of f.references ?? []) {
      const url = httpUrl(r.url);
      helpLines.push(`- ${referenceLabel(r)}${url && url !== r.id ? ` <${url}>` : ''}`);
    }
    for (const r of refs)
      helpLines.push(`- ${r.id} (${r.source.name})${r.source.url ? ` <${r.source.url}>` : ''}`);
  }
  const uri = helpUri(vulnUrl(f));
  return {
    id: f.checkId,
    name: f.checkId,
    shortDescription: { text: f.title || v.id },
    fullDescription: { text: f.title || v.id },
    help: { text: helpLines.join('\n') },
    ...(uri ? { helpUri: uri } : {}),
    defaultConfiguration: { level: LEVEL[f.severity] },
    properties: {
      tags: ['security', 'vulnerability'],
      ...(sev !== undefined ? { 'security-severity': sev } : {}),
      severity: f.severity,
      ...(f.platform ? { platform: f.platform } : {}),
    },
  };
}

/** Host and image targets hold their files themselves: evidence paths are relative to the target's root. */
function inTarget(r: ScanResult): boolean {
  return r.kind === 'host' || r.kind === 'image';
}

function locationOf(f: Finding, r: ScanResult, baseId: string): SarifLocation {
  const e = f.evidence;
  const loc: SarifLocation = {};
  if (e?.file !== undefined && e.file !== '') {
    // Config targets are local files; a host's or an image's files are in the target, not on this machine.
    const artifactLocation = inTarget(r) ? hostArtifact(e.file, baseId) : { uri: toUri(e.file) };
    loc.physicalLocation = { artifactLocation };
    if (e.line !== undefined && Number.isSafeInteger(e.line) && e.line >= 1) {
      loc.physicalLocation.region = { startLine: e.line };
    } else if (e.offset !== undefined && Number.isSafeInteger(e.offset) && e.offset >= 0) {
      loc.physicalLocation.region = { byteOffset: e.offset };
    }
  } else if (r.target !== '') {
    // No file to point at (a host setting read over an API, a VM as a whole): the target itself.
    loc.physicalLocation = { artifactLocation: { uri: toUri(r.target) } };
  }
  if (isVulnerability(f)) {
    const p = f.vulnerability.package;
    loc.logicalLocations = [
      { name: p.name, fullyQualifiedName: `${r.target}::package:${p.name}@${p.version}`, kind: 'package' },
    ];
    return loc;
  }
  loc.logicalLocations = [
    {
      name: f.resource.id,
      fullyQualifiedName: `${r.target}::${f.resource.type}:${f.resource.id}`,
      kind: 'resource',
    },
  ];
  return loc;
}

function resultOf(f: Finding, r: ScanResult, ruleIndex: number, baseId: string): SarifResult {
  const kind = f.status === 'pass' ? 'pass' : f.status === 'unknown' ? 'review' : 'fail';
  const res: SarifResult = {
    ruleId: f.checkId,
    ruleIndex,
    kind,
    // SARIF: a result whose kind is not `fail` has level `none`.
    level: kind === 'fail' ? LEVEL[f.severity] : 'none',
    message: {
      text: isVulnerability(f)
        ? `${f.title || f.vulnerability.id}: ${versionsText(f.vulnerability)}`
        : f.message || f.title,
    },
    locations: [locationOf(f, r, baseId)],
    partialFingerprints: { [FINGERPRINT_KEY]: f.id },
    properties: {
      status: f.status,
      severity: f.severity,
      target: r.target,
      targetKind: r.kind,
      resourceType: f.resource.type,
      resourceId: f.resource.id,
      ...(f.platform ? { platform: f.platform } : {}),
      ...(f.evidence ? { evidence: { ...f.evidence, summary: describeEvidence(f).join('; ') } } : {}),
      ...(isVulnerability(f) ? { vulnerability: vulnerabilityProperties(f) } : {}),
    },
  };
  const vex = f.vulnerability?.vex;
  if (f.status === 'suppressed') {
    res.suppressions = [
      {
        kind: 'external',
        status: 'accepted',
        justification: vex ? vexReason(vex) : 'suppressed (no VEX statement recorded)',
        properties: vex
          ? {
              vexStatus: vex.status,
              ...(vex.justification !== undefined ? { vexJustification: vex.justification } : {}),
              document: vex.document,
            }
          : {},
      },
    ];
    return res;
  }
  if (f.waiver) {
    const expired = f.waiver.expired === true;
    res.suppressions = [
      {
        kind: 'external',
        status: expired && f.status !== 'waived' ? 'rejected' : 'accepted',
        justification: expired
          ? `${f.waiver.justification} (waiver expired ${f.waiver.expires})`
          : f.waiver.justification,
        properties: { owner: f.waiver.owner, expires: f.waiver.expires, expired },
      },
    ];
  }
  return res;
}

/** What a SARIF viewer shows of a vulnerability beyond the message: package, versions, fix state, CVSS. */
function vulnerabilityProperties(f: VulnerabilityFinding): Record<string, unknown> {
  const v = f.vulnerability;
  return {
    id: v.id,
    aliases: v.aliases,
    package: v.package.name,
    purl: v.package.purl,
    installedVersion: v.installedVersion,
    ...(v.fixedVersion !== undefined ? { fixedVersion: v.fixedVersion } : {}),
    fixState: v.fixState,
    cvss: v.cvss.map((c) => ({ version: c.version, vector: c.vector, baseScore: c.baseScore })),
    ...(v.distroSeverity ? { distroSeverity: v.distroSeverity } : {}),
    ...(v.vex ? { vex: v.vex } : {}),
  };
}

/** Builds the SARIF log of a report. */
export function toSarif(report: ScanReport, options: SarifOptions = {}): SarifLog {
  const all = findingsOf(report);
  const firstByCheck = new Map<string, Finding>();
  for (const { finding } of all)
    if (!firstByCheck.has(finding.checkId)) firstByCheck.set(finding.checkId, finding);
  const ids = [...firstByCheck.keys()].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const vulnsByCheck = new Map<string, VulnerabilityFinding[]>();
  for (const { finding } of all) {
    if (!isVulnerability(finding)) continue;
    const list = vulnsByCheck.get(finding.checkId);
    if (list) list.push(finding);
    else vulnsByCheck.set(finding.checkId, [finding]);
  }
  const rules = ids.map((id) => {
    const first = firstByCheck.get(id)!;
    return isVulnerability(first)
      ? vulnRuleOf(first, vulnsByCheck.get(id) ?? [first])
      : ruleOf(first, options.rationale?.(id));
  });
  const targetIndex = new Map(report.results.map((r, i) => [r, i]));
  const includePassing = options.includePassing === true;
  const passed = all.filter(({ finding }) => finding.status === 'pass').length;
  const results = all
    .filter(({ finding }) => includePassing || finding.status !== 'pass')
    .map(({ finding, result }) =>
      resultOf(finding, result, index.get(finding.checkId)!, targetBaseId(targetIndex.get(result) ?? -1)),
    );
  const bases: Record<string, BaseLocation> = {};
  report.results.forEach((r, i) => {
    // Every host (as before); an image only when one of its findings points into it.
    if (r.kind === 'host' || (r.kind === 'image' && r.findings.some((f) => f.evidence?.file)))
      bases[targetBaseId(i)] = targetBase(r.target, r.kind);
  });
  const notifications = report.results
    .filter((r) => r.error)
    .map((r) => ({
      level: 'error' as const,
      message: { text: `${r.target}: ${r.error!.message} [${r.error!.code}]` },
      descriptor: { id: r.error!.code },
      locations: [{ physicalLocation: { artifactLocation: { uri: toUri(r.target) } } }],
    }));
  const end = Date.parse(report.createdAt);
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: report.tool.name,
            version: report.tool.version,
            semanticVersion: report.tool.version,
            informationUri: SARIF_INFORMATION_URI,
            rules,
          },
        },
        invocations: [
          {
            // The run itself completed: unreadable targets are reported, not fatal.
            executionSuccessful: true,
            ...(Number.isFinite(end) ? { endTimeUtc: new Date(end).toISOString() } : {}),
            toolExecutionNotifications: notifications,
          },
        ],
        ...(Object.keys(bases).length > 0 ? { originalUriBaseIds: bases } : {}),
        results,
        properties: {
          passed,
          passingResults: includePassing ? 'included' : 'omitted',
          targets: report.results.map((r) => ({
            target: r.target,
            kind: r.kind,
            packages: r.packages.length,
            ...(r.error ? { error: `${r.error.message} [${r.error.code}]` } : {}),
          })),
          ...(report.advisoryDb ? { advisoryDb: report.advisoryDb } : {}),
        },
      },
    ],
  };
}

/** SARIF 2.1.0 JSON, for GitHub code scanning and other SARIF viewers. */
export const sarifWriter: Writer = {
  format: 'sarif',
  extension: 'sarif',
  write: (report, opts) => JSON.stringify(toSarif(report, opts), null, 2) + '\n',
  stream: (report, opts, out) => {
    writeJson(toSarif(report, opts), out);
    out('\n');
  },
};
