import type { Check } from '../types.js';
import { check as accountLockout } from './esxi-8.account-lockout.js';
import { check as lockdownMode } from './esxi-8.lockdown-mode.js';
import { check as networkBpdu } from './esxi-8.network-bpdu.js';
import { check as rejectForgedTransmit } from './esxi-8.network-reject-forged-transmit-standardswitch.js';
import { check as rejectMacChanges } from './esxi-8.network-reject-mac-changes-standardswitch.js';
import { check as rejectPromiscuous } from './esxi-8.network-reject-promiscuous-mode-standardswitch.js';
import { check as shellTimeout } from './esxi-8.shell-timeout.js';
import { check as deactivateConsoleCopy } from './vm-8.deactivate-console-copy.js';
import { check as deactivateConsolePaste } from './vm-8.deactivate-console-paste.js';
import { check as deactivate3d } from './vm-8.deactivate-non-essential-3d-features.js';
import { check as dvfilter } from './vm-8.dvfilter.js';
import { check as dndDeactivate } from './vm-8.isolation-tools-dnd-deactivate.js';
import { check as limitConsoleConnections } from './vm-8.limit-console-connections.js';
import { check as pciPassthrough } from './vm-8.pci-passthrough.js';
import { check as removeUnnecessaryDevices } from './vm-8.remove-unnecessary-devices.js';
import { check as restrictHostInfo } from './vm-8.restrict-host-info.js';
import { check as tpsInterVm } from './vm-8.transparentpagesharing-inter-vm-enabled.js';
import { check as vmotionEncrypted } from './vm-8.vmotion-encrypted.js';
import { check as vmrcLock } from './vm-8.vmrc-lock.js';

/** Every vmware check, in catalogue order: ESXi hosts, then standard switches, then VMs. */
export const vmwareChecks: Check[] = [
  lockdownMode,
  shellTimeout,
  accountLockout,
  networkBpdu,
  rejectForgedTransmit,
  rejectMacChanges,
  rejectPromiscuous,
  limitConsoleConnections,
  vmotionEncrypted,
  deactivateConsoleCopy,
  deactivateConsolePaste,
  dndDeactivate,
  vmrcLock,
  pciPassthrough,
  removeUnnecessaryDevices,
  deactivate3d,
  tpsInterVm,
  dvfilter,
  restrictHostInfo,
];
