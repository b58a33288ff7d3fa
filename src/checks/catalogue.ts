import { HyperwardError } from '../errors.js';
import { kvmChecks } from './kvm/index.js';
import { proxmoxChecks } from './proxmox/index.js';
import { CheckMetaSchema, type Check } from './types.js';
import { vmwareChecks } from './vmware/index.js';

/** Every check Hyperward has, validated against the metadata schema; ids are unique. */
export function loadCatalogue(): Check[] {
  const all = [...kvmChecks, ...proxmoxChecks, ...vmwareChecks];
  const seen = new Set<string>();
  for (const c of all) {
    const parsed = CheckMetaSchema.safeParse(c.meta);
    if (!parsed.success) {
      throw new HyperwardError('E_INTERNAL', `check ${c.meta.id}: invalid metadata: ${parsed.error.message}`);
    }
    if (seen.has(c.meta.id)) throw new HyperwardError('E_INTERNAL', `duplicate check id ${c.meta.id}`);
    seen.add(c.meta.id);
  }
  return all;
}
