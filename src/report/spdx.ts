import { createHash } from 'node:crypto';
import { packageUrl } from './purl.js';
import type { Writer } from './types.js';

/** SPDX ids allow letters, digits, `.` and `-` only. */
function spdxId(...parts: string[]): string {
  return 'SPDXRef-' + parts.join('-').replace(/[^A-Za-z0-9.-]/g, '-');
}

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: 'NOASSERTION';
  filesAnalyzed: false;
  licenseConcluded?: 'NOASSERTION';
  licenseDeclared?: 'NOASSERTION';
  copyrightText?: 'NOASSERTION';
  primaryPackagePurpose?: string;
  supplier?: string;
  sourceInfo?: string;
  externalRefs?: Array<{ referenceCategory: string; referenceType: string; referenceLocator: string }>;
}

/** SPDX 2.3 JSON: one package per target, its OS, and its installed packages, linked by relationships. */
export const spdxWriter: Writer = {
  format: 'spdx',
  extension: 'spdx.json',
  write(report) {
    const packages: SpdxPackage[] = [];
    const relationships: Array<{
      spdxElementId: string;
      relationshipType: string;
      relatedSpdxElement: string;
    }> = [];
    report.results.forEach((r, i) => {
      const targetId = spdxId('Target', String(i));
      packages.push({
        SPDXID: targetId,
        name: r.target,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'FILE',
      });
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
      for (const p of r.packages) {
        const id = spdxId('Package', String(i), p.name, p.arch, p.version);
        const pkg: SpdxPackage = {
          SPDXID: id,
          name: p.name,
          versionInfo: p.version,
          downloadLocation: 'NOASSERTION',
          filesAnalyzed: false,
          licenseConcluded: 'NOASSERTION',
          licenseDeclared: 'NOASSERTION',
          copyrightText: 'NOASSERTION',
          primaryPackagePurpose: 'LIBRARY',
          externalRefs: [
            {
              referenceCategory: 'PACKAGE-MANAGER',
              referenceType: 'purl',
              referenceLocator: packageUrl(p, r.os),
            },
          ],
        };
        if (p.sourceName !== p.name || p.sourceVersion !== p.version) {
          pkg.sourceInfo = `built package from: ${p.sourceName} ${p.sourceVersion}`;
        }
        if (p.maintainer) pkg.supplier = `Organization: ${p.maintainer.replace(/\n/g, ' ')}`;
        packages.push(pkg);
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
    return JSON.stringify(doc, null, 2) + '\n';
  },
};
