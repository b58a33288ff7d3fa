import type { HostMac } from '../../model/kvm.js';
import { confStringList } from '../../platform/kvm/libvirt-conf.js';
import { defineCheck } from '../types.js';
import {
  boolOf,
  combine,
  describe,
  evidenceOf,
  invalidPart,
  LIBVIRT_DOCS,
  qemuDriverHost,
  qemuConfUnreadable,
  qemuSetting,
  type Part,
} from './host-common.js';

/**
 * What libvirt's security driver probe finds when qemu.conf names none: SELinux if enabled, then AppArmor if
 * enabled and libvirt's guest template is installed, else no confinement (libvirt's security manager tries the
 * drivers in that order and falls back to the no-op driver).
 */
function probe(mac: HostMac): { driver: string; status: Part['status']; why: string } {
  const se = mac.selinux?.value;
  if (se === 'enforcing')
    return {
      driver: 'selinux',
      status: 'pass',
      why: `SELinux is enforcing (${mac.selinux!.file}:${mac.selinux!.line})`,
    };
  if (se === 'permissive') {
    return {
      driver: 'selinux',
      status: 'fail',
      why: `SELinux is permissive (${mac.selinux!.file}:${mac.selinux!.line}): guests get sVirt labels but nothing enforces them`,
    };
  }
  if (mac.apparmorKernel?.value === 'N') {
    return {
      driver: 'none',
      status: 'fail',
      why: 'AppArmor is disabled in the running kernel and SELinux is not enabled',
    };
  }
  if (mac.apparmorInstalled && mac.apparmorLibvirtTemplate) {
    const kernel = mac.apparmorKernel
      ? 'enabled in the running kernel'
      : 'installed (the kernel state is not visible from this root)';
    return {
      driver: 'apparmor',
      status: 'pass',
      why: `AppArmor is ${kernel} (${mac.apparmorInstalled}) with libvirt's guest template ${mac.apparmorLibvirtTemplate}`,
    };
  }
  return {
    driver: 'none',
    status: 'fail',
    why: "neither SELinux (enforcing) nor AppArmor with libvirt's guest template was found on the host",
  };
}

export const confinementDisabled = defineCheck(
  {
    id: 'kvm.host.confinement-disabled',
    title: 'QEMU processes must be confined by SELinux or AppArmor (sVirt)',
    severity: 'high',
    platform: 'kvm',
    resourceType: 'host',
    rationale:
      'libvirt confines each QEMU process with a per-guest SELinux or AppArmor label so that a guest that escapes into QEMU can reach only its own disks and devices. With security_driver = "none", with security_default_confined = 0, or with no MAC framework for the default driver probe to find, a compromised QEMU can read and write every other guest\'s images and anything else its user can reach.',
    remediation:
      'Leave security_driver unset (or set it to "selinux"/"apparmor") and security_default_confined = 1 in /etc/libvirt/qemu.conf, keep SELinux enforcing or AppArmor enabled with libvirt\'s profiles installed, then restart the libvirt daemon.',
    references: { urls: [LIBVIRT_DOCS.qemu] },
  },
  (inv) => {
    const kvm = qemuDriverHost(inv);
    if (!kvm) return [];
    const unreadable = qemuConfUnreadable(kvm);
    if (unreadable) return combine(inv, [unreadable]);

    const confined = qemuSetting(kvm, 'security_default_confined');
    const confinedOn = boolOf(confined);
    if (confinedOn === undefined) return combine(inv, [invalidPart(confined, '0 or 1')]);

    const driver = kvm.qemuConf?.entries.security_driver;
    let names: string[] | undefined;
    if (driver) {
      names = confStringList(driver, true);
      if (names === undefined) {
        return combine(inv, [
          invalidPart(
            {
              key: 'security_driver',
              file: kvm.qemuConfPath,
              value: driver.value,
              isDefault: false,
              entry: driver,
            },
            'a string or a list of strings',
          ),
        ]);
      }
      if (names.includes('none')) {
        return combine(inv, [
          {
            status: 'fail',
            message: `security_driver = ${driver.value} (${driver.file}:${driver.line}): QEMU processes run without SELinux or AppArmor confinement`,
            evidence: {
              file: driver.file,
              key: 'security_driver',
              value: driver.value,
              line: driver.line,
              isDefault: false,
            },
          },
        ]);
      }
    }
    if (!confinedOn) {
      return combine(inv, [
        {
          status: 'fail',
          message: `${describe(confined)}: guests whose XML has no <seclabel> run unconfined`,
          evidence: evidenceOf(confined),
        },
      ]);
    }
    if (driver && names && names.length > 0) {
      return combine(inv, [
        {
          status: 'pass',
          message: `security_driver = ${driver.value} (${driver.file}:${driver.line}) and ${describe(confined)}; libvirt refuses to start if a named driver is not available`,
          evidence: {
            file: driver.file,
            key: 'security_driver',
            value: driver.value,
            line: driver.line,
            isDefault: false,
          },
        },
      ]);
    }
    const p = probe(kvm.mac);
    const how = p.driver === 'none' ? 'falls back to no confinement' : `uses ${p.driver}`;
    return combine(inv, [
      {
        status: p.status,
        message: `security_driver is not set (default: libvirt probes the host's MAC framework): ${p.why}, so libvirt ${how}; ${describe(confined)}`,
        evidence: { file: kvm.qemuConfPath, key: 'security_driver', value: p.driver, isDefault: true },
      },
    ]);
  },
);
