/** Helpers shared by the kvm.vm.* checks: one outcome per libvirt domain, resource `vm/<domain name>`. */
import type { Evidence } from '../../model/finding.js';
import type { HostInventory } from '../../model/host.js';
import type { LibvirtDomain } from '../../model/kvm.js';
import type { CheckOutcome } from '../types.js';

/** The resource a domain's finding is about. */
export function vmResource(dom: LibvirtDomain): CheckOutcome['resource'] {
  return { type: 'vm', id: `vm/${dom.name}` };
}

/** `a, b, c and 2 more`: keeps messages short whatever a hostile file holds. */
export function listText(items: readonly string[], max = 4): string {
  const shown = items.slice(0, max).map((s) => (s.length > 120 ? `${s.slice(0, 117)}...` : s));
  const more = items.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/** Evidence pointing at a line of the domain XML. */
export function domEvidence(dom: LibvirtDomain, line: number, key: string, value: string): Evidence {
  return { file: dom.file, line, key, value: value.length > 200 ? `${value.slice(0, 197)}...` : value };
}

/** Runs `judge` over every domain of the inventory; a check with no domains returns nothing. */
export function eachDomain(
  inv: HostInventory,
  judge: (dom: LibvirtDomain) => Omit<CheckOutcome, 'resource'>,
): CheckOutcome[] {
  return inv.libvirtDomains.map((dom) => ({ ...judge(dom), resource: vmResource(dom) }));
}
