import type { Check } from '../types.js';
import { kvmHostChecks } from './host-index.js';
import { kvmVmChecks } from './vm-index.js';

/** Every KVM/libvirt check, in catalogue order: host configuration, then domains. */
export const kvmChecks: Check[] = [...kvmHostChecks, ...kvmVmChecks];
