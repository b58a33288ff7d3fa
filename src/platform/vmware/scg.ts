/**
 * The VMware vSphere 8 Security Configuration & Compliance Guide catalogue, as VMware publishes it in CSV
 * (github.com/vmware/vcf-security-and-compliance-guidelines): one control per row — id such as
 * `esxi-8.lockdown-mode`, the configuration parameter, its installation default and baseline value, priority,
 * and its DISA STIG and PCI DSS mappings. A mapping cell may list several ids on separate lines; a row with an
 * empty id continues the control above it (more STIG ids). Pure over its input: no I/O.
 */
import { readFileSync, statSync } from 'node:fs';
import { HyperwardError } from '../../errors.js';
import { parseCsv } from './csv.js';

/** One SCG control. */
export interface ScgControl {
  id: string;
  component: string;
  feature: string;
  /** `P0`, `P1`, `P2` or `Advanced`, without the "Upon Feature Enablement" note. */
  priority: string;
  title: string;
  /** e.g. `Security.AccountLockFailures`, `RemoteDisplay.maxConnections`; `N/A` when there is none. */
  parameter: string;
  installationDefault: string;
  baseline: string;
  /** DISA STIG rule ids, e.g. `ESXI-80-000005`; empty when unmapped. */
  stig: string[];
  /** The STIG's own value where it differs from the guide's, e.g. `3` for account lockout. */
  stigRequirement: string;
  stigExceedsBaseline: boolean;
  /** CSV line the control's row starts on. */
  line: number;
}

/** The catalogue is ~160 KiB with ~160 controls. */
export const MAX_CATALOGUE_CHARS = 16 * 1024 * 1024;
const MAX_CONTROLS = 20_000;
const ID = /^[a-z0-9]+-8\.[a-z0-9-]+$/;

const COLUMNS = {
  id: 'SCG ID',
  component: 'Component',
  feature: 'Feature/Function',
  priority: 'Implementation Priority',
  title: 'Description/Title',
  parameter: 'Configuration Parameter',
  installationDefault: 'Installation Default Value',
  baseline: 'Baseline Suggested Value',
  stig: 'DISA STIG Mapping',
  stigRequirement: 'DISA STIG Requirement',
  stigExceeds: 'DISA STIG Control Exceeds Baseline?',
} as const;

function ids(cell: string): string[] {
  return cell
    .split(/[\n,;]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && s.toUpperCase() !== 'N/A');
}

/**
 * Parses the SCG catalogue CSV into controls by id. Throws `HyperwardError` E_UNSUPPORTED_FORMAT when a
 * column is missing, an id is malformed or repeated, or a continuation row has no control above it; E_LIMIT past
 * the caps.
 */
export function parseScgCatalogue(text: string, file: string): Map<string, ScgControl> {
  const layer = 'SCG catalogue CSV';
  if (text.length > MAX_CATALOGUE_CHARS) {
    throw new HyperwardError('E_LIMIT', `${text.length} characters exceeds the cap`, { file, layer });
  }
  const records = parseCsv(text, file, {
    layer,
    maxRecords: MAX_CONTROLS,
    maxRecordChars: 1024 * 1024,
    relaxColumnCount: true,
  });
  const head = records[0];
  if (!head) throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'empty catalogue', { file, layer });
  const col: Record<keyof typeof COLUMNS, number> = {} as Record<keyof typeof COLUMNS, number>;
  for (const [k, name] of Object.entries(COLUMNS) as Array<[keyof typeof COLUMNS, string]>) {
    const i = head.fields.findIndex((h) => h.trim() === name);
    if (i < 0) {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', `no ${JSON.stringify(name)} column`, {
        file,
        layer: `${layer} line ${head.line}`,
      });
    }
    col[k] = i;
  }
  const out = new Map<string, ScgControl>();
  let prev: ScgControl | undefined;
  for (const r of records.slice(1)) {
    const get = (k: keyof typeof COLUMNS): string => (r.fields[col[k]] ?? '').trim();
    const where = { file, layer: `${layer} line ${r.line}` };
    const id = get('id');
    if (id === '') {
      const more = ids(get('stig'));
      if (more.length === 0) continue;
      if (!prev)
        throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'STIG continuation row before any control', where);
      for (const s of more) if (!prev.stig.includes(s)) prev.stig.push(s);
      continue;
    }
    if (!ID.test(id)) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `control id ${JSON.stringify(id.slice(0, 80))}`,
        where,
      );
    }
    if (out.has(id)) throw new HyperwardError('E_UNSUPPORTED_FORMAT', `control ${id} appears twice`, where);
    const c: ScgControl = {
      id,
      component: get('component'),
      feature: get('feature'),
      priority: get('priority').split(/\s/)[0] ?? '',
      title: get('title'),
      parameter: get('parameter'),
      installationDefault: get('installationDefault'),
      baseline: get('baseline'),
      stig: ids(get('stig')),
      stigRequirement: get('stigRequirement'),
      stigExceedsBaseline: get('stigExceeds').toUpperCase() === 'YES',
      line: r.line,
    };
    out.set(id, c);
    prev = c;
  }
  if (out.size === 0) throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no controls', { file, layer });
  return out;
}

/** Reads and parses the catalogue file at `path` (see `parseScgCatalogue`); E_LIMIT for an oversized file. */
export function loadScgCatalogue(path: string): Map<string, ScgControl> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new HyperwardError('E_NOT_FOUND', 'SCG catalogue not found', { file: path }, { cause: e });
  }
  if (size > MAX_CATALOGUE_CHARS) {
    throw new HyperwardError('E_LIMIT', `${size} bytes exceeds the cap`, {
      file: path,
      layer: 'SCG catalogue CSV',
    });
  }
  return parseScgCatalogue(readFileSync(path, 'utf8'), path);
}
