import type { Check } from '../types.js';
import { vmConfinementDisabled } from './vm-confinement-disabled.js';
import { vmConsoleUnauthenticated } from './vm-console-unauthenticated.js';
import { vmHostDevicePassthrough } from './vm-host-device-passthrough.js';
import { vmNetworkConsole } from './vm-network-console.js';
import { vmNoTrafficFilter } from './vm-no-traffic-filter.js';
import { vmQemuPassthroughArgs } from './vm-qemu-passthrough-args.js';
import { vmSharedDisk } from './vm-shared-disk.js';
import { vmUsbRedirection } from './vm-usb-redirection.js';

/** The kvm.vm.* checks (libvirt domains), in catalogue order. */
export const kvmVmChecks: Check[] = [
  vmConsoleUnauthenticated,
  vmConfinementDisabled,
  vmQemuPassthroughArgs,
  vmHostDevicePassthrough,
  vmNetworkConsole,
  vmSharedDisk,
  vmUsbRedirection,
  vmNoTrafficFilter,
];
