import type { Check } from '../types.js';
import clusterFirewallDisabled from './proxmox.cluster.firewall-disabled.js';
import clusterFirewallPolicyInAccept from './proxmox.cluster.firewall-policy-in-accept.js';
import migrationInsecure from './proxmox.cluster.migration-insecure.js';
import hostFirewallDisabled from './proxmox.host.firewall-disabled.js';
import vmFirewallPolicyInAccept from './proxmox.vm.firewall-policy-in-accept.js';
import hostDevicePassthrough from './proxmox.vm.host-device-passthrough.js';
import ipFilterDisabled from './proxmox.vm.ip-filter-disabled.js';
import macFilterDisabled from './proxmox.vm.mac-filter-disabled.js';
import nicFirewallOff from './proxmox.vm.nic-firewall-off.js';
import rawQemuArgs from './proxmox.vm.raw-qemu-args.js';
import vmFirewallDisabled from './proxmox.vm.vm-firewall-disabled.js';

/** Every proxmox check, in catalogue order. */
export const proxmoxChecks: Check[] = [
  clusterFirewallDisabled,
  clusterFirewallPolicyInAccept,
  migrationInsecure,
  hostFirewallDisabled,
  hostDevicePassthrough,
  rawQemuArgs,
  nicFirewallOff,
  vmFirewallDisabled,
  vmFirewallPolicyInAccept,
  macFilterDisabled,
  ipFilterDisabled,
];
