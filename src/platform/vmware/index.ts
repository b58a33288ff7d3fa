/**
 * VMware readers into a `HostInventory`: `.vmx` files and ESXi advanced-settings exports. A file that cannot be
 * parsed becomes an `unreadable` entry and the run goes on.
 */
import { isHyperwardError } from '../../errors.js';
import type { HostInventory } from '../../model/host.js';
import { readEsxiExport, type EsxiExportOptions } from './esxcli.js';
import { parseVmx } from './vmx.js';

export { parseVmx, looksLikeVmx, decodeVmxValue } from './vmx.js';
export {
  parseEsxcliAdvanced,
  parsePowerCliAdvancedCsv,
  readEsxiExport,
  looksLikeEsxcliAdvanced,
  type EsxiExportOptions,
} from './esxcli.js';
export { parseScgCatalogue, loadScgCatalogue, type ScgControl } from './scg.js';

function record(inv: HostInventory, file: string, e: unknown): void {
  if (!isHyperwardError(e)) throw e;
  inv.unreadable.push({ file, code: e.code, message: e.message });
}

/** Parses one `.vmx` into `inv.vmx`; a parse failure is recorded in `inv.unreadable`. Returns whether it was read. */
export function readVmxInto(inv: HostInventory, text: string, file: string): boolean {
  try {
    inv.vmx.push(parseVmx(text, file));
    return true;
  } catch (e) {
    record(inv, file, e);
    return false;
  }
}

/**
 * Parses one ESXi export (esxcli text or PowerCLI CSV) into `inv.esxi`; a parse failure is recorded in
 * `inv.unreadable`. Returns whether it was read.
 */
export function readEsxiExportInto(
  inv: HostInventory,
  text: string,
  file: string,
  opts: EsxiExportOptions = {},
): boolean {
  try {
    inv.esxi.push(...readEsxiExport(text, file, opts));
    return true;
  } catch (e) {
    record(inv, file, e);
    return false;
  }
}
