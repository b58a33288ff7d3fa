/**
 * Shared pieces of the VMware checks: resource ids, settings as they apply (present value or documented
 * default, with evidence), and VMware's boolean and integer value forms. Pure: no I/O.
 */
import { HyperwardError } from '../../errors.js';
import type { Evidence } from '../../model/finding.js';
import type { HostInventory } from '../../model/host.js';
import type { EsxiHost, StandardSwitch, VmxConfig } from '../../model/vmware.js';
import { ESXI_ADVANCED_DEFAULTS, VMX_DEFAULTS } from '../../platform/vmware/defaults.js';
import type { CheckMeta, CheckOutcome } from '../types.js';

/** Where VMware publishes the catalogue the check ids and defaults come from. */
export const SCG_URL = 'https://github.com/vmware/vcf-security-and-compliance-guidelines';

/** `vm/<displayName or file>`. */
export function vmResource(vmx: VmxConfig): { type: string; id: string } {
  return { type: 'vm', id: `vm/${vmx.name ?? vmx.file}` };
}

/** `host/<name>`. */
export function hostResource(host: EsxiHost): { type: string; id: string } {
  return { type: 'host', id: `host/${host.name}` };
}

/** `switch/<host>/<vswitch>`. */
export function switchResource(host: EsxiHost, sw: StandardSwitch): { type: string; id: string } {
  return { type: 'switch', id: `switch/${host.name}/${sw.name}` };
}

/** A setting as it applies: the value in the file, or the documented default when the key is absent. */
export interface AppliedSetting {
  /** `undefined` when the default is that the key is not present. */
  value: string | undefined;
  isDefault: boolean;
  evidence: Evidence;
}

/** Quotes a value for a message; `(not present)` for a default absence. */
export function show(value: string | undefined): string {
  return value === undefined ? '(not present)' : JSON.stringify(value);
}

/**
 * The `.vmx` setting `lowerKey` as it applies to `vmx`. `lowerKey` must have a documented default in
 * `VMX_DEFAULTS` (a programming error otherwise). A wildcard family (`pcipassthru*.present`) always gives its
 * default: a literal `*` key written by a script is not a device.
 */
export function vmxSetting(vmx: VmxConfig, lowerKey: string): AppliedSetting {
  const entry = lowerKey.includes('*') ? undefined : vmx.entries[lowerKey];
  if (entry) {
    return {
      value: entry.value,
      isDefault: false,
      evidence: { file: entry.file, key: entry.key, value: entry.value, line: entry.line },
    };
  }
  const def = VMX_DEFAULTS[lowerKey];
  if (!def) throw new HyperwardError('E_INTERNAL', `no documented default for ${lowerKey}`);
  return {
    value: def.value,
    isDefault: true,
    evidence: { file: vmx.file, key: def.key, value: def.value ?? 'not present', isDefault: true },
  };
}

/** `.vmx` booleans are `TRUE`/`FALSE` in any case; anything else is not a boolean (undefined). */
export function vmxBool(value: string | undefined): boolean | undefined {
  const v = value?.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

/** A decimal integer (optionally negative), or undefined. */
export function strictInt(value: string | undefined): number | undefined {
  const v = value?.trim();
  if (v === undefined || !/^-?\d{1,15}$/.test(v)) return undefined;
  return Number(v);
}

/** The entries of `vmx` whose lowercased key matches `re`, in file order. */
export function vmxMatching(
  vmx: VmxConfig,
  re: RegExp,
): Array<{ lower: string; entry: VmxConfig['entries'][string] }> {
  const out: Array<{ lower: string; entry: VmxConfig['entries'][string] }> = [];
  for (const lower of Object.keys(vmx.entries)) {
    const entry = vmx.entries[lower];
    if (entry && re.test(lower)) out.push({ lower, entry });
  }
  return out.sort((a, b) => a.entry.line - b.entry.line);
}

/**
 * A VM check over one boolean `.vmx` setting: passes when the applied value equals `want`, fails otherwise,
 * and is `unknown` when the value is not a VMX boolean. `says` explains each outcome in a few words.
 */
export function vmxBooleanCheck(
  inv: HostInventory,
  lowerKey: string,
  want: boolean,
  says: { pass: string; fail: string },
): CheckOutcome[] {
  return inv.vmx.map((vmx): CheckOutcome => {
    const s = vmxSetting(vmx, lowerKey);
    const key = s.evidence.key ?? lowerKey;
    const b = vmxBool(s.value);
    const where = s.isDefault ? ' (not set: the default applies)' : '';
    if (b === undefined) {
      return {
        status: 'unknown',
        resource: vmResource(vmx),
        message: `${key} = ${show(s.value)} is not TRUE or FALSE; VMware's handling of it is undefined`,
        evidence: s.evidence,
      };
    }
    const ok = b === want;
    return {
      status: ok ? 'pass' : 'fail',
      resource: vmResource(vmx),
      message: `${key} = ${show(s.value)}${where}: ${ok ? says.pass : `${says.fail} (set it to ${want ? 'TRUE' : 'FALSE'})`}`,
      evidence: s.evidence,
    };
  });
}

/** An ESXi advanced setting as it applies, or why it is not known from this source. */
export type HostSetting = { known: true; setting: AppliedSetting } | { known: false; message: string };

/**
 * The advanced setting `lowerKey` of `host`: the exported value, or the documented default when the source lists
 * every non-default setting (`advancedComplete`), or not known.
 */
export function esxiSetting(host: EsxiHost, lowerKey: string): HostSetting {
  const def = ESXI_ADVANCED_DEFAULTS[lowerKey];
  if (!def) throw new HyperwardError('E_INTERNAL', `no documented default for ${lowerKey}`);
  const entry = host.advanced[lowerKey];
  if (entry) {
    return {
      known: true,
      setting: {
        value: entry.value,
        isDefault: false,
        evidence: { file: entry.file, key: entry.key, value: entry.value, line: entry.line },
      },
    };
  }
  if (host.advancedComplete === true) {
    return {
      known: true,
      setting: {
        value: def.value,
        isDefault: true,
        evidence: { file: host.source, key: def.key, value: def.value ?? 'not present', isDefault: true },
      },
    };
  }
  return {
    known: false,
    message: `${def.key} is not in ${host.source}, and that source does not list every non-default setting, so its value is not known`,
  };
}

/**
 * A host check over one integer advanced setting; `judge` returns a failure reason, or undefined to pass.
 */
export function esxiIntegerCheck(
  inv: HostInventory,
  lowerKey: string,
  judge: (n: number) => string | undefined,
  passWhy: string,
): CheckOutcome[] {
  return inv.esxi.map((host): CheckOutcome => {
    const s = esxiSetting(host, lowerKey);
    if (!s.known) return { status: 'unknown', resource: hostResource(host), message: s.message };
    const { setting } = s;
    const key = setting.evidence.key ?? lowerKey;
    const where = setting.isDefault ? ' (not set: the default applies)' : '';
    const n = strictInt(setting.value);
    if (n === undefined) {
      return {
        status: 'unknown',
        resource: hostResource(host),
        message: `${key} = ${show(setting.value)} is not an integer`,
        evidence: setting.evidence,
      };
    }
    const bad = judge(n);
    return {
      status: bad === undefined ? 'pass' : 'fail',
      resource: hostResource(host),
      message: `${key} = ${n}${where}: ${bad ?? passWhy}`,
      evidence: setting.evidence,
    };
  });
}

/** Severity from the SCG's implementation priority: P0 high, P1 medium, P2 and later low. */
export function severityForPriority(priority: string): CheckMeta['severity'] {
  return priority === 'P0' ? 'high' : priority === 'P1' ? 'medium' : 'low';
}

/** A numeric check parameter, or undefined when the profile set it to something else. */
export function numberParam(
  params: Readonly<Record<string, string | number | boolean>>,
  name: string,
): number | undefined {
  const v = params[name];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') return strictInt(v);
  return undefined;
}
