import { Enums, Models, Serialize, Spec, Types } from '@cyclonedx/cyclonedx-library';
import type { CvssScore, Severity, VexApplied } from '../model/finding.js';
import type { ApplianceInfo } from '../model/inventory.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { applianceIntegrity, httpUrl } from './common.js';
import { packageUrl } from './purl.js';
import type { Writer } from './types.js';
import {
  isVulnerability,
  upgradeAdvice,
  vulnReferences,
  vulnSource,
  type VulnSource,
  type VulnerabilityFinding,
} from './vulnerability.js';

/** The package components of one target, found by purl and by name + version + architecture. */
interface TargetComponents {
  /** The target itself (an appliance's component for an appliance): what a CPE match affects. */
  target: Models.Component;
  /** The component the OS packages hang under: the operating system, else the target itself. */
  parent: Models.Component;
  byPurl: Map<string, Models.Component>;
  byNvra: Map<string, Models.Component>;
}

function nvra(name: string, version: string, arch: string): string {
  return `${name}\0${version}\0${arch}`;
}

/**
 * An appliance as a component: type `application` (a vendor's software product — its CPE names part `a` — rather
 * than `container`, which CycloneDX keeps for OS-level virtualization, or `device`, for hardware), named after its
 * product with its version, supplier and website, the most likely CPE candidate in `cpe`, and the rest of what the
 * scan found (file, descriptor, every CPE candidate with its confidence, integrity, disks) as properties.
 */
function applianceComponent(a: ApplianceInfo, r: ScanResult, index: number): Models.Component {
  const best = a.cpes.find((c) => Types.isCPE(c.cpe));
  const c = new Models.Component(Enums.ComponentType.Application, a.product ?? r.target, {
    bomRef: `target-${index}`,
    ...(a.version !== undefined ? { version: a.version } : {}),
    ...(best !== undefined ? { cpe: best.cpe } : {}),
  });
  if (a.vendor !== undefined) {
    const url = httpUrl(a.vendorUrl);
    c.supplier = new Models.OrganizationalEntity({
      name: a.vendor,
      ...(url !== undefined ? { url: new Set([url]) } : {}),
    });
  }
  const website = httpUrl(a.productUrl);
  if (website !== undefined) {
    c.externalReferences.add(new Models.ExternalReference(website, Enums.ExternalReferenceType.Website));
  }
  const prop = (name: string, value: string): void => {
    c.properties.add(new Models.Property(name, value));
  };
  prop('hyperward:target', r.target);
  prop('hyperward:appliance:kind', a.kind);
  prop('hyperward:appliance:descriptor', a.descriptor);
  if (a.fullVersion !== undefined) prop('hyperward:appliance:fullVersion', a.fullVersion);
  for (const cpe of a.cpes) prop(`hyperward:appliance:cpe:${cpe.confidence}`, cpe.cpe);
  prop('hyperward:appliance:manifest', a.manifest.status);
  prop('hyperward:appliance:signature', a.signature.status);
  prop('hyperward:appliance:integrity', applianceIntegrity(a));
  for (const d of a.disks) {
    const size = d.capacityBytes !== undefined ? ` ${d.capacityBytes}` : '';
    prop('hyperward:appliance:disk', `${d.diskId} ${d.file ?? '-'}${size}${d.root ? ' os' : ''}`);
  }
  return c;
}

function resultComponents(
  bom: Models.Bom,
  r: ScanResult,
  index: number,
): { target: Models.Component; packages: TargetComponents } {
  const target = r.appliance
    ? applianceComponent(r.appliance, r, index)
    : new Models.Component(Enums.ComponentType.File, r.target, { bomRef: `target-${index}` });
  if (r.image) {
    target.properties.add(new Models.Property('hyperward:image:format', r.image.format));
    if (r.image.subformat)
      target.properties.add(new Models.Property('hyperward:image:subformat', r.image.subformat));
    target.properties.add(new Models.Property('hyperward:image:virtualSize', String(r.image.virtualSize)));
  }
  if (r.hostname) target.properties.add(new Models.Property('hyperward:hostname', r.hostname));
  let parent = target;
  if (r.os) {
    const os = new Models.Component(Enums.ComponentType.OperatingSystem, r.os.id, {
      bomRef: `target-${index}-os`,
      ...(r.os.versionId !== undefined ? { version: r.os.versionId } : {}),
      ...(r.os.prettyName !== undefined ? { description: r.os.prettyName } : {}),
    });
    bom.components.add(os);
    target.dependencies.add(os.bomRef);
    parent = os;
  }
  const packages: TargetComponents = { target, parent, byPurl: new Map(), byNvra: new Map() };
  for (const p of r.packages) {
    const purl = packageUrl(p, r.os);
    const c = new Models.Component(Enums.ComponentType.Library, p.name, {
      bomRef: `${purl}#${index}`,
      version: p.version,
      purl,
    });
    if (p.sourceName !== p.name)
      c.properties.add(new Models.Property('hyperward:package:srcName', p.sourceName));
    if (p.sourceVersion !== p.version) {
      c.properties.add(new Models.Property('hyperward:package:srcVersion', p.sourceVersion));
    }
    c.properties.add(new Models.Property('hyperward:package:ecosystem', p.ecosystem));
    if (p.maintainer) c.supplier = new Models.OrganizationalEntity({ name: p.maintainer });
    bom.components.add(c);
    parent.dependencies.add(c.bomRef);
    if (!packages.byPurl.has(purl)) packages.byPurl.set(purl, c);
    const key = nvra(p.name, p.version, p.arch);
    if (!packages.byNvra.has(key)) packages.byNvra.set(key, c);
  }
  return { target, packages };
}

/**
 * The component of the package a vulnerability finding is about, in the finding's own target: by purl, else by
 * name, version and architecture; a package the inventory does not list (the finding names it all the same) gets
 * a component of its own under the target, so `affects` never points at nothing.
 */
function affectedComponent(
  bom: Models.Bom,
  comps: TargetComponents,
  f: VulnerabilityFinding,
  index: number,
): Models.Component {
  const p = f.vulnerability.package;
  // An appliance's product matched by CPE: the appliance is the affected component.
  if (p.ecosystem === 'cpe') return comps.target;
  const found = comps.byPurl.get(p.purl) ?? comps.byNvra.get(nvra(p.name, p.version, p.arch));
  if (found) return found;
  const c = new Models.Component(Enums.ComponentType.Library, p.name, {
    bomRef: `${p.purl}#${index}`,
    version: p.version,
    ...(p.purl ? { purl: p.purl } : {}),
  });
  c.properties.add(new Models.Property('hyperward:package:ecosystem', p.ecosystem));
  c.properties.add(new Models.Property('hyperward:package:inferred', 'true'));
  bom.components.add(c);
  comps.parent.dependencies.add(c.bomRef);
  comps.byPurl.set(p.purl, c);
  return c;
}

const RATING_METHOD: Readonly<Record<CvssScore['version'], Enums.Vulnerability.RatingMethod>> = {
  '2.0': Enums.Vulnerability.RatingMethod.CVSSv2,
  '3.0': Enums.Vulnerability.RatingMethod.CVSSv3,
  '3.1': Enums.Vulnerability.RatingMethod.CVSSv31,
  '4.0': Enums.Vulnerability.RatingMethod.CVSSv4,
};

const RATING_SEVERITY: Readonly<Record<Severity, Enums.Vulnerability.Severity>> = {
  critical: Enums.Vulnerability.Severity.Critical,
  high: Enums.Vulnerability.Severity.High,
  medium: Enums.Vulnerability.Severity.Medium,
  low: Enums.Vulnerability.Severity.Low,
  info: Enums.Vulnerability.Severity.Info,
};

/** Distro ratings as the feeds write them (Debian urgency, Ubuntu priority, Red Hat severity...). */
const DISTRO_RATING: Readonly<Record<string, Enums.Vulnerability.Severity>> = {
  critical: Enums.Vulnerability.Severity.Critical,
  important: Enums.Vulnerability.Severity.High,
  high: Enums.Vulnerability.Severity.High,
  moderate: Enums.Vulnerability.Severity.Medium,
  medium: Enums.Vulnerability.Severity.Medium,
  low: Enums.Vulnerability.Severity.Low,
  negligible: Enums.Vulnerability.Severity.Low,
  unimportant: Enums.Vulnerability.Severity.Low,
};

const ANALYSIS_STATE: Readonly<Record<VexApplied['status'], Enums.Vulnerability.AnalysisState>> = {
  not_affected: Enums.Vulnerability.AnalysisState.NotAffected,
  fixed: Enums.Vulnerability.AnalysisState.Resolved,
  affected: Enums.Vulnerability.AnalysisState.Exploitable,
  under_investigation: Enums.Vulnerability.AnalysisState.InTriage,
};

/**
 * OpenVEX justifications in CycloneDX's terms: the component or its vulnerable code is not there
 * (`code_not_present`), the code is there but never runs (`code_not_reachable`), the adversary cannot reach it
 * (`requires_environment`: it takes conditions the deployment does not offer), or a mitigation already exists
 * (`protected_by_mitigating_control`). A CycloneDX justification is kept as it is; anything else goes to `detail`.
 */
const JUSTIFICATION: Readonly<Record<string, Enums.Vulnerability.AnalysisJustification>> = {
  component_not_present: Enums.Vulnerability.AnalysisJustification.CodeNotPresent,
  vulnerable_code_not_present: Enums.Vulnerability.AnalysisJustification.CodeNotPresent,
  vulnerable_code_not_in_execute_path: Enums.Vulnerability.AnalysisJustification.CodeNotReachable,
  vulnerable_code_cannot_be_controlled_by_adversary:
    Enums.Vulnerability.AnalysisJustification.RequiresEnvironment,
  inline_mitigations_already_exist: Enums.Vulnerability.AnalysisJustification.ProtectedByMitigatingControl,
  ...Object.fromEntries(Object.values(Enums.Vulnerability.AnalysisJustification).map((j) => [j, j])),
};

function source(s: VulnSource): Models.Vulnerability.Source {
  return new Models.Vulnerability.Source({ name: s.name, ...(s.url ? { url: s.url } : {}) });
}

function date(s: string | undefined): Date | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(t) : undefined;
}

function analysisOf(vex: VexApplied): Models.Vulnerability.Analysis {
  const justification = vex.justification !== undefined ? JUSTIFICATION[vex.justification] : undefined;
  const detail = [
    vex.statement,
    vex.justification !== undefined && justification !== vex.justification
      ? `justification: ${vex.justification}`
      : undefined,
    `VEX document: ${vex.document}`,
  ]
    .filter((x): x is string => x !== undefined && x !== '')
    .join('\n');
  return new Models.Vulnerability.Analysis({
    state: ANALYSIS_STATE[vex.status],
    ...(justification !== undefined ? { justification } : {}),
    detail,
  });
}

/** One vulnerability entry: the ratings, references and texts of its first finding, `affects` of them all. */
function vulnerabilityOf(
  group: Array<{ finding: VulnerabilityFinding; ref: Models.BomRef }>,
  bomRef: string,
): Models.Vulnerability.Vulnerability {
  const first = group[0]!.finding;
  const v = first.vulnerability;
  const vuln = new Models.Vulnerability.Vulnerability({
    bomRef,
    id: v.id,
    source: source(vulnSource(v)),
    description: first.title || first.message,
    ...(first.message && first.message !== first.title ? { detail: first.message } : {}),
  });
  for (const r of vulnReferences(v))
    vuln.references.add(new Models.Vulnerability.Reference(r.id, source(r.source)));
  for (const c of v.cvss) {
    if (!Number.isFinite(c.baseScore)) continue;
    vuln.ratings.add(
      new Models.Vulnerability.Rating({
        method: RATING_METHOD[c.version],
        score: c.baseScore,
        vector: c.vector,
        severity: RATING_SEVERITY[c.severity],
      }),
    );
  }
  if (v.distroSeverity) {
    const mapped =
      v.severitySource === 'distro'
        ? RATING_SEVERITY[first.severity]
        : DISTRO_RATING[v.distroSeverity.rating.toLowerCase()];
    vuln.ratings.add(
      new Models.Vulnerability.Rating({
        method: Enums.Vulnerability.RatingMethod.Other,
        source: new Models.Vulnerability.Source({ name: v.distroSeverity.source }),
        severity: mapped ?? Enums.Vulnerability.Severity.Unknown,
        justification: `${v.distroSeverity.source} rates it ${v.distroSeverity.rating}`,
      }),
    );
  }
  const advice = [
    ...new Set(group.map((g) => upgradeAdvice(g.finding.vulnerability)).filter((a) => a !== undefined)),
  ];
  if (advice.length > 0) vuln.recommendation = advice.join('; ');
  else if (first.remediation) vuln.recommendation = first.remediation;
  const published = date(v.published);
  if (published) vuln.published = published;
  const updated = date(v.modified);
  if (updated) vuln.updated = updated;
  if (v.vex) vuln.analysis = analysisOf(v.vex);
  const unaffected = v.vex?.status === 'not_affected' || v.vex?.status === 'fixed';
  const byRef = new Map<Models.BomRef, Models.Vulnerability.Affect>();
  for (const { finding, ref } of group) {
    let affect = byRef.get(ref);
    if (!affect) {
      affect = new Models.Vulnerability.Affect(ref);
      byRef.set(ref, affect);
      vuln.affects.add(affect);
    }
    affect.versions.add(
      new Models.Vulnerability.AffectedSingleVersion(finding.vulnerability.installedVersion, {
        status: unaffected
          ? Enums.Vulnerability.AffectStatus.Unaffected
          : Enums.Vulnerability.AffectStatus.Affected,
      }),
    );
  }
  vuln.properties.add(new Models.Property('hyperward:fixState', v.fixState));
  vuln.properties.add(new Models.Property('hyperward:severity', first.severity));
  vuln.properties.add(new Models.Property('hyperward:severitySource', v.severitySource));
  return vuln;
}

/** Groups vulnerability findings by vulnerability id and VEX analysis: one CycloneDX entry carries one analysis. */
function groupKey(f: VulnerabilityFinding): string {
  const x = f.vulnerability.vex;
  return JSON.stringify([f.vulnerability.id, x?.status, x?.justification, x?.statement, x?.document]);
}

/**
 * Builds the CycloneDX model of a report: each target, its operating system and the OS's packages; and the
 * vulnerabilities found, one entry per vulnerability id (and VEX analysis), whose `affects` name the package
 * components of every target where it was found. Passing vulnerability findings are left out.
 */
export function toCycloneDx(report: ScanReport): Models.Bom {
  const bom = new Models.Bom();
  bom.metadata.timestamp = new Date(report.createdAt);
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, report.tool.name, { version: report.tool.version }),
  );
  const built = report.results.map((r, i) => resultComponents(bom, r, i));
  if (built.length === 1) {
    bom.metadata.component = built[0]!.target;
  } else {
    for (const t of built) bom.components.add(t.target);
  }
  const groups = new Map<string, Array<{ finding: VulnerabilityFinding; ref: Models.BomRef }>>();
  report.results.forEach((r, i) => {
    for (const f of r.findings) {
      if (!isVulnerability(f) || f.status === 'pass') continue;
      const ref = affectedComponent(bom, built[i]!.packages, f, i).bomRef;
      const key = groupKey(f);
      const list = groups.get(key);
      if (list) list.push({ finding: f, ref });
      else groups.set(key, [{ finding: f, ref }]);
    }
  });
  const refsPerId = new Map<string, number>();
  for (const group of groups.values()) {
    const id = group[0]!.finding.vulnerability.id;
    const n = refsPerId.get(id) ?? 0;
    refsPerId.set(id, n + 1);
    bom.vulnerabilities.add(vulnerabilityOf(group, n === 0 ? `vuln:${id}` : `vuln:${id}#${n}`));
  }
  return bom;
}

/** CycloneDX 1.6 JSON. */
export const cyclonedxWriter: Writer = {
  format: 'cyclonedx',
  extension: 'cdx.json',
  write(report) {
    const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
    return serializer.serialize(toCycloneDx(report), { sortLists: true, space: 2 }) + '\n';
  },
};
