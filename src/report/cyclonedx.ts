import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import type { ScanReport, ScanResult } from '../model/report.js';
import { packageUrl } from './purl.js';
import type { Writer } from './types.js';

function resultComponents(bom: Models.Bom, r: ScanResult, index: number): Models.Component {
  const target = new Models.Component(Enums.ComponentType.File, r.target, { bomRef: `target-${index}` });
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
  }
  return target;
}

/** Builds the CycloneDX model of a report: the image, its operating system, and the OS's packages. */
export function toCycloneDx(report: ScanReport): Models.Bom {
  const bom = new Models.Bom();
  bom.metadata.timestamp = new Date(report.createdAt);
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, report.tool.name, { version: report.tool.version }),
  );
  const targets = report.results.map((r, i) => resultComponents(bom, r, i));
  if (targets.length === 1) {
    bom.metadata.component = targets[0];
  } else {
    for (const t of targets) bom.components.add(t);
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
