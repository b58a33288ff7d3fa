/**
 * Test support for the VMware checks (used by the `*.test.ts` files beside it, not by the scanner): inventories
 * built from the real files in fixtures/vmware with one-line edits, and a runner that applies parameter defaults.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emptyInventory, type HostInventory } from '../../src/model/host.js';
import type { EsxiHost, StandardSwitch, VmxConfig } from '../../src/model/vmware.js';
import { readEsxiExport, type EsxiExportOptions } from '../../src/platform/vmware/esxcli.js';
import { parseVmx } from '../../src/platform/vmware/vmx.js';
import type { Check, CheckOutcome, ParamValue } from '../../src/checks/types.js';

/** Absolute path of fixtures/vmware. */
export const FIXTURES = fileURLToPath(new URL('../../fixtures/vmware/', import.meta.url));

/** Text of a file under fixtures/vmware. */
export function fixtureText(rel: string): string {
  return readFileSync(`${FIXTURES}${rel}`, 'utf8');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Sets `key` in `.vmx` text (matching any case): replaces its line, appends a line when absent, or removes every
 * line of it when `value` is undefined. `spelling` is how a new or replaced key is written (default `key`).
 */
export function setVmxLine(text: string, key: string, value: string | undefined, spelling = key): string {
  const re = new RegExp(`^${escapeRe(key)}\\s*=.*$\\n?`, 'gim');
  if (value === undefined) return text.replace(re, '');
  const line = `${spelling} = "${value}"\n`;
  return re.test(text) ? text.replace(re, line) : `${text.endsWith('\n') ? text : `${text}\n`}${line}`;
}

/** A `.vmx` fixture parsed after `edit`; the file is named `fixtures/vmware/vmx/<name>`. */
export function vmx(name: string, edit: (text: string) => string = (t) => t): VmxConfig {
  return parseVmx(edit(fixtureText(`vmx/${name}`)), `fixtures/vmware/vmx/${name}`);
}

/** ESXi hosts read from an export fixture under fixtures/vmware/esxi. */
export function esxiHosts(
  name: string,
  opts: EsxiExportOptions = {},
  edit: (t: string) => string = (t) => t,
): EsxiHost[] {
  return readEsxiExport(edit(fixtureText(`esxi/${name}`)), `fixtures/vmware/esxi/${name}`, opts);
}

/** An inventory holding these VMs and hosts. */
export function inventory(parts: { vmx?: VmxConfig[]; esxi?: EsxiHost[] }): HostInventory {
  const inv = emptyInventory('test', 'files');
  inv.vmx = parts.vmx ?? [];
  inv.esxi = parts.esxi ?? [];
  return inv;
}

/** Runs `check` with its parameter defaults overlaid by `params`. */
export function run(
  check: Check,
  inv: HostInventory,
  params: Record<string, ParamValue> = {},
): CheckOutcome[] {
  const p: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(check.meta.parameters ?? {})) p[k] = v.default;
  return check.run(inv, { params: { ...p, ...params } });
}

/** The single outcome of `check` over one VM. */
export function one(check: Check, config: VmxConfig, params: Record<string, ParamValue> = {}): CheckOutcome {
  const out = run(check, inventory({ vmx: [config] }), params);
  assert.equal(out.length, 1);
  return out[0]!;
}

/** The single outcome of `check` over one host. */
export function oneHost(check: Check, host: EsxiHost, params: Record<string, ParamValue> = {}): CheckOutcome {
  const out = run(check, inventory({ esxi: [host] }), params);
  assert.equal(out.length, 1);
  return out[0]!;
}

/**
 * A host as the vSphere API reports a default installation's networking: vSwitch0 with the "Management
 * Network" and "VM Network" port groups, security policy set on the switch, port groups inheriting it.
 */
export function hostWithSwitches(
  policy: StandardSwitch['policy'],
  portGroups?: StandardSwitch['portGroups'],
): EsxiHost {
  return {
    name: 'esx01.lab.example',
    source: 'vsphere://vc.lab.example',
    advanced: Object.create(null) as EsxiHost['advanced'],
    standardSwitches: [
      {
        name: 'vSwitch0',
        policy,
        portGroups: portGroups ?? [
          { name: 'Management Network', vlanId: 0, policy: {} },
          { name: 'VM Network', vlanId: 0, policy: {} },
        ],
      },
    ],
  };
}

/** 1-based line of the last `key = …` line in `text` (any case), found independently of the parser. */
export function lineOf(text: string, key: string): number {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (new RegExp(`^\\s*${escapeRe(key)}\\s*=`, 'i').test(lines[i]!)) return i + 1;
  }
  assert.fail(`${key} not in text`);
}

/** Removes the option block of `path` (e.g. `/Net/BlockGuestBPDU`) from esxcli output; asserts it was there. */
export function dropEsxcliBlock(text: string, path: string): string {
  const re = new RegExp(`^\\s*Path: ${escapeRe(path)}\\n(?:(?!\\s*Path: ).*\\n?)*`, 'm');
  assert.match(text, re);
  return text.replace(re, '');
}
