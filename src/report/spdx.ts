import { createHash } from 'node:crypto';
import type { Package } from '../model/inventory.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { applianceIntegrity, httpUrl } from './common.js';
import { writeJson } from './json-text.js';
import { packageUrl } from './purl.js';
import type { Writer } from './types.js';
import {
  feedSource,
  idSource,
  isVulnerability,
  versionsText,
  vexReason,
  type VulnerabilityFinding,
} from './vulnerability.js';

/** SPDX ids allow letters, digits, `.` and `-` only. */
function spdxId(...parts: string[]): string {
  return 'SPDXRef-' + parts.join('-').replace(/[^A-Za-z0-9.-]/g, '-');
}

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  packageFileName?: string;
  downloadLocation: 'NOASSERTION';
  filesAnalyzed: false;
  licenseConcluded?: 'NOASSERTION';
  licenseDeclared?: 'NOASSERTION';
  copyrightText?: 'NOASSERTION';
  primaryPackagePurpose?: string;
  supplier?: string;
  homepage?: string;
  sourceInfo?: string;
  comment?: string;
  externalRefs?: ExternalRef[];
}

/**
 * The package of a target: the file scanned, or for an appliance its product (`APPLICATION`, like CycloneDX's
 * component type) with its version, supplier, homepage, the file name, and its CPE candidates as Annex F
 * `SECURITY` / `cpe23Type` references, each with its confidence.
 */
function targetPackage(r: ScanResult, id: string): SpdxPackage {
  const a = r.appliance;
  if (a === undefined) {
    return {
      SPDXID: id,
      name: r.target,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'FILE',
    };
  }
  const pkg: SpdxPackage = {
    SPDXID: id,
    name: a.product ?? r.target,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    primaryPackagePurpose: 'APPLICATION',
  };
  if (a.version !== undefined) pkg.versionInfo = a.version;
  pkg.packageFileName = r.target;
  if (a.vendor !== undefined) pkg.supplier = `Organization: ${a.vendor.replace(/\n/g, ' ')}`;
  const home = httpUrl(a.productUrl);
  if (home !== undefined) pkg.homepage = home;
  pkg.comment = `${a.kind.toUpperCase()} appliance (${a.descriptor}): ${applianceIntegrity(a)}`;
  if (a.cpes.length > 0) {
    pkg.externalRefs = a.cpes.map((c) => ({
      referenceCategory: 'SECURITY',
      referenceType: 'cpe23Type',
      referenceLocator: c.cpe,
      comment: `${c.confidence} confidence: ${c.basis}`,
    }));
  }
  return pkg;
}

interface ExternalRef {
  referenceCategory: string;
  referenceType: string;
  referenceLocator: string;
  comment?: string;
}

/**
 * SPDX 2.3 Annex F `SECURITY` / `advisory` references for the vulnerabilities of one package: the page of the
 * vulnerability id (NVD for a CVE, as in the Annex's example) and the page of every record that matched, each with
 * a comment that says which vulnerability, the installed and fixed versions, and the VEX statement of a suppressed
 * one. `fix` is not used: Annex F means a link to the source code of a fix, which the advisories do not give.
 */
function advisoryRefs(findings: readonly VulnerabilityFinding[]): ExternalRef[] {
  const out: ExternalRef[] = [];
  const seen = new Set<string>();
  for (const f of findings) {
    const v = f.vulnerability;
    let comment = `${v.id} (${f.severity}): ${versionsText(v)}`;
    if (f.status === 'suppressed')
      comment += v.vex ? `; suppressed, VEX ${vexReason(v.vex)}` : '; suppressed';
    else if (f.status === 'waived') comment += '; waived';
    const urls = [idSource(v.id).url, ...v.advisories.map((a) => feedSource(a.origin, a.id).url)];
    for (const url of urls) {
      if (url === undefined || seen.has(url)) continue;
      seen.add(url);
      out.push({ referenceCategory: 'SECURITY', referenceType: 'advisory', referenceLocator: url, comment });
    }
  }
  return out;
}

/** The vulnerability findings of a target per package: by purl, else by name, version and architecture. */
function vulnerabilitiesByPackage(r: ScanResult): {
  of: (p: Package, purl: string) => VulnerabilityFinding[];
  unlisted: () => VulnerabilityFinding[][];
} {
  const nvra = (name: string, version: string, arch: string) => `${name}\0${version}\0${arch}`;
  const byPurl = new Map<string, VulnerabilityFinding[]>();
  for (const f of r.findings) {
    if (!isVulnerability(f) || f.status === 'pass') continue;
    const list = byPurl.get(f.vulnerability.package.purl);
    if (list) list.push(f);
    else byPurl.set(f.vulnerability.package.purl, [f]);
  }
  const byNvra = new Map<string, string[]>();
  for (const [purl, list] of byPurl) {
    const p = list[0]!.vulnerability.package;
    const key = nvra(p.name, p.version, p.arch);
    byNvra.set(key, [...(byNvra.get(key) ?? []), purl]);
  }
  const taken = new Set<string>();
  return {
    of(p, purl) {
      const keys = byPurl.has(purl) ? [purl] : (byNvra.get(nvra(p.name, p.version, p.arch)) ?? []);
      const out: VulnerabilityFinding[] = [];
      for (const k of keys) {
        if (taken.has(k)) continue;
        taken.add(k);
        out.push(...byPurl.get(k)!);
      }
      return out;
    },
    unlisted: () => [...byPurl].filter(([k]) => !taken.has(k)).map(([, list]) => list),
  };
}

/**
 * SPDX 2.3 JSON: one package per target, its OS, and its installed packages, linked by relationships; a package
 * with vulnerabilities carries `SECURITY` / `advisory` external references to them (a vulnerable package the
 * inventory does not list gets a package of its own).
 */
export const spdxWriter: Writer = {
  format: 'spdx',
  extension: 'spdx.json',
  write: (report) => JSON.stringify(toSpdx(report), null, 2) + '\n',
  stream: (report, _opts, out) => {
    writeJson(toSpdx(report), out);
    out('\n');
  },
};

/** An installed package (or one a vulnerability names), nothing asserted about its origin or licence. */
function libraryPackage(
  id: string,
  name: string,
  version: string,
  externalRefs: NonNullable<SpdxPackage['externalRefs']>,
): SpdxPackage {
  return {
    SPDXID: id,
    name,
    versionInfo: version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'LIBRARY',
    externalRefs,
  };
}

/** The SPDX 2.3 document of a report (`spdxWriter`). */
function toSpdx(report: ScanReport): object {
  const packages: SpdxPackage[] = [];
  const relationships: Array<{
    spdxElementId: string;
    relationshipType: string;
    relatedSpdxElement: string;
  }> = [];
  report.results.forEach((r, i) => {
    const targetId = spdxId('Target', String(i));
    packages.push(targetPackage(r, targetId));
    relationships.push({
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: targetId,
    });
    let parentId = targetId;
    if (r.os) {
      const osId = spdxId('OperatingSystem', String(i));
      const osPkg: SpdxPackage = {
        SPDXID: osId,
        name: r.os.id,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'OPERATING-SYSTEM',
      };
      if (r.os.versionId) osPkg.versionInfo = r.os.versionId;
      packages.push(osPkg);
      relationships.push({
        spdxElementId: targetId,
        relationshipType: 'CONTAINS',
        relatedSpdxElement: osId,
      });
      parentId = osId;
    }
    const vulns = vulnerabilitiesByPackage(r);
    const ids = new Set<string>();
    for (const p of r.packages) {
      const id = spdxId('Package', String(i), p.name, p.arch, p.version);
      ids.add(id);
      const pkg = libraryPackage(id, p.name, p.version, [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: packageUrl(p, r.os),
        },
      ]);
      if (p.sourceName !== p.name || p.sourceVersion !== p.version) {
        pkg.sourceInfo = `built package from: ${p.sourceName} ${p.sourceVersion}`;
      }
      if (p.maintainer) pkg.supplier = `Organization: ${p.maintainer.replace(/\n/g, ' ')}`;
      const purl = pkg.externalRefs![0]!.referenceLocator;
      pkg.externalRefs!.push(...advisoryRefs(vulns.of(p, purl)));
      packages.push(pkg);
      relationships.push({ spdxElementId: parentId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
    }
    for (const list of vulns.unlisted()) {
      const vp = list[0]!.vulnerability.package;
      let id = spdxId('Package', String(i), vp.name, vp.arch, vp.version);
      for (let n = 2; ids.has(id); n++)
        id = spdxId('Package', String(i), vp.name, vp.arch, vp.version, String(n));
      ids.add(id);
      packages.push(
        libraryPackage(id, vp.name, vp.version, [
          ...(vp.purl
            ? [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: vp.purl }]
            : []),
          ...advisoryRefs(list),
        ]),
      );
      relationships.push({ spdxElementId: parentId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
    }
  });
  const names = report.results.map((r) => r.target).join(', ');
  const ns = createHash('sha256').update(`${report.createdAt}\0${names}`).digest('hex').slice(0, 32);
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: names || 'hyperward scan',
    documentNamespace: `https://hyperward.dev/spdx/${ns}`,
    creationInfo: {
      created: report.createdAt.replace(/\.\d+Z$/, 'Z'),
      creators: [`Tool: hyperward-${report.tool.version}`],
    },
    packages,
    relationships,
  };
  return doc;
}
