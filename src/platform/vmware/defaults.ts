/**
 * The documented default of each VMware setting the checks judge: the value that applies when a `.vmx` (or an
 * ESXi host) does not set it. Each one cites the VMware vSphere 8 Security Configuration Guide control whose
 * "Installation Default Value" column documents it; `scg.test.ts` compares every entry with that column of
 * VMware's own catalogue (fixtures/vmware/scg-8-controls.csv), so the two cannot drift apart.
 */

/** A default as the SCG catalogue states it. */
export interface DocumentedDefault {
  /** The key as VMware spells it (evidence shows this spelling). */
  key: string;
  /** The value that applies when the key is absent; `undefined` when the default is that the key is not present. */
  value: string | undefined;
  /** SCG control whose "Installation Default Value" column documents the default. */
  scg: string;
  /** That column's text, verbatim. */
  scgInstallationDefault: string;
}

function d(
  key: string,
  value: string | undefined,
  scg: string,
  scgInstallationDefault: string,
): DocumentedDefault {
  return Object.freeze({ key, value, scg, scgInstallationDefault });
}

/** `.vmx` keys, by lowercased key (wildcard families written with `*`). */
export const VMX_DEFAULTS: Readonly<Record<string, DocumentedDefault>> = Object.freeze({
  'remotedisplay.maxconnections': d(
    'RemoteDisplay.maxConnections',
    '-1',
    'vm-8.limit-console-connections',
    '-1',
  ),
  'isolation.tools.copy.disable': d(
    'isolation.tools.copy.disable',
    'TRUE',
    'vm-8.deactivate-console-copy',
    'TRUE',
  ),
  'isolation.tools.paste.disable': d(
    'isolation.tools.paste.disable',
    'TRUE',
    'vm-8.deactivate-console-paste',
    'TRUE',
  ),
  'isolation.tools.dnd.disable': d(
    'isolation.tools.dnd.disable',
    'TRUE',
    'vm-8.isolation-tools-dnd-deactivate',
    'TRUE',
  ),
  'tools.guest.desktop.autolock': d('tools.guest.desktop.autolock', 'FALSE', 'vm-8.vmrc-lock', 'FALSE'),
  'mks.enable3d': d('mks.enable3d', 'FALSE', 'vm-8.deactivate-non-essential-3d-features', 'FALSE'),
  'tools.guestlib.enablehostinfo': d(
    'tools.guestlib.enableHostInfo',
    'FALSE',
    'vm-8.restrict-host-info',
    'FALSE',
  ),
  /** The VM's `migrateEncryption` property; the SCG names it "VM Configuration", the `.vmx` key is this one. */
  'migrate.encryptionmode': d(
    'migrate.encryptionMode',
    'opportunistic',
    'vm-8.vmotion-encrypted',
    'opportunistic',
  ),
  'sched.mem.pshare.salt': d(
    'sched.mem.pshare.salt',
    undefined,
    'vm-8.transparentpagesharing-inter-vm-enabled',
    'Not Present',
  ),
  'ethernet*.filter*.name': d('ethernet*.filter*.name', undefined, 'vm-8.dvfilter', 'Not Present'),
  'pcipassthru*.present': d('pciPassthru*.present', undefined, 'vm-8.pci-passthrough', 'Not Present'),
});

/** ESXi advanced settings, by lowercased key. */
export const ESXI_ADVANCED_DEFAULTS: Readonly<Record<string, DocumentedDefault>> = Object.freeze({
  'security.accountlockfailures': d('Security.AccountLockFailures', '5', 'esxi-8.account-lockout', '5'),
  'uservars.esxishelltimeout': d('UserVars.ESXiShellTimeOut', '0', 'esxi-8.shell-timeout', '0'),
  'net.blockguestbpdu': d('Net.BlockGuestBPDU', '1', 'esxi-8.network-bpdu', '1'),
});

/** Host lockdown mode of a newly installed ESXi. */
export const LOCKDOWN_DEFAULT: DocumentedDefault = d(
  'lockdownMode',
  'lockdownDisabled',
  'esxi-8.lockdown-mode',
  'lockdownDisabled',
);

/**
 * Standard-switch security policy when the switch does not set a field (`true` = accept). The SCG states the
 * installation defaults as `Accept`/`Reject`.
 */
export const SWITCH_POLICY_DEFAULTS: Readonly<
  Record<'forgedTransmits' | 'macChanges' | 'allowPromiscuous', DocumentedDefault>
> = Object.freeze({
  forgedTransmits: d(
    'forgedTransmits',
    'Accept',
    'esxi-8.network-reject-forged-transmit-standardswitch',
    'Accept',
  ),
  macChanges: d('macChanges', 'Accept', 'esxi-8.network-reject-mac-changes-standardswitch', 'Accept'),
  allowPromiscuous: d(
    'allowPromiscuous',
    'Reject',
    'esxi-8.network-reject-promiscuous-mode-standardswitch',
    'Reject',
  ),
});

/**
 * Presence of virtual devices when their `.present` key is absent. The SCG gives no per-key default for
 * vm-8.remove-unnecessary-devices (its column says "Configured": a new VM has such devices), so these follow how
 * VMware writes `.vmx` files: a device exists when `<device>.present = "TRUE"` is written — except the legacy
 * floppy drive `floppy0`, which VMware's products record as removed by writing `floppy0.present = "FALSE"` (every
 * ESXi-written sample in fixtures/vmware/vmx does; the Fusion one configures `floppy0.startConnected` with no
 * `present` key, i.e. a drive is there). So an absent `floppy0.present` is judged as a floppy drive. libvirt's
 * VMX reader reads an absent `.present` as FALSE for every device; this is the one place we differ.
 */
export const DEVICE_PRESENT_DEFAULTS: Readonly<Record<string, boolean>> = Object.freeze({
  floppy0: true,
});
