/**
 * ESXi advanced settings from exports, into `EsxiHost.advanced`:
 *
 * - `esxcli system settings advanced list` text: one block per option, `Path: /UserVars/ESXiShellTimeOut`
 *   followed by `Type:`, `Int Value:`, `Default Int Value:`, `String Value:`, `Description:`... lines. The path
 *   becomes the dotted key vSphere uses (`UserVars.ESXiShellTimeOut`); the value is the `Int Value` of an
 *   integer option and the `String Value` of a string option.
 * - PowerCLI `Get-AdvancedSetting | Export-Csv`: a CSV with `Name` and `Value` columns, optionally `Entity` (the
 *   host name; several hosts may share one file), `Type` (rows that are not `VMHost` settings are skipped) and
 *   PowerShell 5's `#TYPE …` first line.
 *
 * An export lists what it lists: a setting absent from it is unknown (checks say so) unless the caller states
 * that the export is complete — `--delta` output lists every setting that differs from its default, so an absent
 * one has its default (`complete: true` sets `EsxiHost.advancedComplete`). Pure over its input: no I/O.
 */
import { basename, extname } from 'node:path';
import { HyperwardError } from '../../errors.js';
import type { ConfigEntry } from '../../model/host.js';
import type { EsxiHost } from '../../model/vmware.js';
import { parseCsv } from './csv.js';

/** A full `esxcli … advanced list` is 1-2 MiB; this leaves a wide margin. */
export const MAX_EXPORT_CHARS = 32 * 1024 * 1024;
/** ESXi 8 has about 1,500 advanced options. */
export const MAX_SETTINGS = 100_000;
/** Longest value kept (a long `Config.Etc.motd` is a few KiB). */
export const MAX_VALUE_CHARS = 256 * 1024;

export interface EsxiExportOptions {
  /** Host name when the export names none (esxcli output never does). Default: the file name without extension. */
  host?: string;
  /** The export lists every setting that differs from its default (e.g. `esxcli … list --delta`). */
  complete?: boolean;
}

const FIELDS = new Set([
  'path',
  'type',
  'int value',
  'default int value',
  'min value',
  'max value',
  'string value',
  'default string value',
  'valid characters',
  'description',
  'host specific',
  'impact',
]);
const FIELD_LINE = /^\s*([A-Za-z][A-Za-z ]{0,40}?):(?: (.*))?$/;
const KEY = /^[A-Za-z0-9_.-]+$/;

function preflight(text: string, file: string, layer: string): void {
  if (text.length > MAX_EXPORT_CHARS) {
    throw new HyperwardError(
      'E_LIMIT',
      `${text.length} characters exceeds the ${MAX_EXPORT_CHARS}-character cap`,
      {
        file,
        layer,
      },
    );
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'binary data (NUL byte): not a text export', {
      file,
      layer,
      offset: nul,
    });
  }
}

function defaultHostName(file: string): string {
  const b = basename(file);
  const stem = b.slice(0, b.length - extname(b).length);
  return stem !== '' ? stem : b;
}

function newHost(name: string, file: string, opts: EsxiExportOptions): EsxiHost {
  const host: EsxiHost = { name, source: file, advanced: Object.create(null) as Record<string, ConfigEntry> };
  if (opts.complete === true) host.advancedComplete = true;
  return host;
}

interface Field {
  value: string;
  line: number;
}

/**
 * Parses `esxcli system settings advanced list` output (full, `--delta`, `-o` or `-t` listings). Throws
 * `HyperwardError` E_UNSUPPORTED_FORMAT for text with no option blocks, a block without a usable value or a
 * malformed path, and E_LIMIT past the caps; errors name the file and line.
 */
export function parseEsxcliAdvanced(text: string, file: string, opts: EsxiExportOptions = {}): EsxiHost {
  const layer = 'esxcli advanced settings';
  preflight(text, file, layer);
  const host = newHost(opts.host ?? defaultHostName(file), file, opts);
  let count = 0;
  let block: Map<string, Field> | undefined;
  let last: Field | undefined;

  const finish = (): void => {
    if (!block) return;
    const path = block.get('path')!;
    const where = { file, layer: `${layer} line ${path.line}` };
    if (!path.value.startsWith('/')) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `option path ${JSON.stringify(path.value.slice(0, 80))}`,
        where,
      );
    }
    const key = path.value.slice(1).split('/').join('.');
    if (!KEY.test(key)) {
      throw new HyperwardError(
        'E_UNSUPPORTED_FORMAT',
        `option path ${JSON.stringify(path.value.slice(0, 80))}`,
        where,
      );
    }
    const type = block.get('type')?.value.trim().toLowerCase();
    const intV = block.get('int value');
    const strV = block.get('string value');
    let v: Field | undefined;
    if (type === 'integer') v = intV;
    else if (type === 'string') v = strV;
    else v = strV && strV.value.trim() !== '' ? strV : (intV ?? strV);
    if (!v) throw new HyperwardError('E_UNSUPPORTED_FORMAT', `option ${key} has no value line`, where);
    let value = v.value.replace(/\n+$/, '');
    if (v === intV) {
      value = value.trim();
      if (!/^-?\d{1,20}$/.test(value)) {
        throw new HyperwardError(
          'E_UNSUPPORTED_FORMAT',
          `option ${key}: Int Value ${JSON.stringify(value)}`,
          {
            file,
            layer: `${layer} line ${v.line}`,
          },
        );
      }
    }
    const lower = key.toLowerCase();
    if (!(lower in host.advanced)) {
      count += 1;
      if (count > MAX_SETTINGS)
        throw new HyperwardError('E_LIMIT', `more than ${MAX_SETTINGS} settings`, where);
    }
    host.advanced[lower] = { key, value, file, line: v.line };
    block = undefined;
    last = undefined;
  };

  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const m = FIELD_LINE.exec(line);
    const label = m?.[1]?.trim().toLowerCase();
    if (m && label !== undefined && FIELDS.has(label)) {
      if (label === 'path') {
        finish();
        block = new Map();
      }
      if (!block) continue; // a field before the first Path: (e.g. a stray line of another command)
      const f: Field = { value: (m[2] ?? '').replace(/\s+$/, ''), line: i + 1 };
      if (f.value.length > MAX_VALUE_CHARS) {
        throw new HyperwardError('E_LIMIT', `value longer than ${MAX_VALUE_CHARS} characters`, {
          file,
          layer: `${layer} line ${i + 1}`,
        });
      }
      block.set(label, f);
      last = f;
    } else if (last) {
      // A multi-line string value (e.g. a message of the day) or description continues on the next lines.
      if (last.value.length + line.length + 1 > MAX_VALUE_CHARS) {
        throw new HyperwardError('E_LIMIT', `value longer than ${MAX_VALUE_CHARS} characters`, {
          file,
          layer: `${layer} line ${i + 1}`,
        });
      }
      last.value += `\n${line.replace(/\s+$/, '')}`;
    }
  }
  finish();
  if (count === 0) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      'no `Path:` option blocks: not `esxcli system settings advanced list` output',
      { file, layer },
    );
  }
  return host;
}

function header(text: string): { fromLine: number; delimiter: string } {
  const body = text.replace(/^\uFEFF/, '');
  const lines = body.split('\n', 3);
  const typeLine = lines[0]?.startsWith('#TYPE') === true;
  const head = (typeLine ? lines[1] : lines[0]) ?? '';
  // `Export-Csv -UseCulture` writes the list separator of the locale: `;` in much of Europe.
  const delimiter = !head.includes(',') && head.includes(';') ? ';' : ',';
  return { fromLine: typeLine ? 2 : 1, delimiter };
}

/**
 * Parses PowerCLI `Get-AdvancedSetting | Export-Csv` output into one host per `Entity` (or one host named by
 * `opts.host` / the file name when there is no `Entity` column). Throws `HyperwardError` E_UNSUPPORTED_FORMAT
 * when the CSV is malformed, lacks `Name`/`Value` columns or holds no host setting, E_LIMIT past the caps.
 */
export function parsePowerCliAdvancedCsv(
  text: string,
  file: string,
  opts: EsxiExportOptions = {},
): EsxiHost[] {
  const layer = 'PowerCLI advanced settings CSV';
  preflight(text, file, layer);
  const { fromLine, delimiter } = header(text);
  const records = parseCsv(text, file, {
    layer,
    fromLine,
    delimiter,
    maxRecords: MAX_SETTINGS,
    maxRecordChars: MAX_VALUE_CHARS,
  });
  const head = records[0];
  if (!head) throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'empty CSV', { file, layer });
  const col = (name: string): number => head.fields.findIndex((h) => h.trim().toLowerCase() === name);
  const nameCol = col('name');
  const valueCol = col('value');
  const entityCol = col('entity');
  const typeCol = col('type');
  if (nameCol < 0 || valueCol < 0) {
    throw new HyperwardError(
      'E_UNSUPPORTED_FORMAT',
      'no `Name` and `Value` columns: not a Get-AdvancedSetting export',
      {
        file,
        layer: `${layer} line ${head.line}`,
      },
    );
  }
  const hosts = new Map<string, EsxiHost>();
  for (const r of records.slice(1)) {
    const type = typeCol >= 0 ? (r.fields[typeCol] ?? '').trim() : '';
    if (type !== '' && type.toLowerCase() !== 'vmhost') continue; // vCenter, cluster or VM settings
    const key = (r.fields[nameCol] ?? '').trim();
    if (!KEY.test(key)) {
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', `setting name ${JSON.stringify(key.slice(0, 80))}`, {
        file,
        layer: `${layer} line ${r.line}`,
      });
    }
    const entity = entityCol >= 0 ? (r.fields[entityCol] ?? '').trim() : '';
    const name = entity !== '' ? entity : (opts.host ?? defaultHostName(file));
    let host = hosts.get(name);
    if (!host) {
      host = newHost(name, file, opts);
      hosts.set(name, host);
    }
    host.advanced[key.toLowerCase()] = { key, value: r.fields[valueCol] ?? '', file, line: r.line };
  }
  if (hosts.size === 0) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no ESXi host settings (Type VMHost) in the CSV', {
      file,
      layer,
    });
  }
  return [...hosts.values()];
}

/** True when the text reads like `esxcli system settings advanced list` output. */
export function looksLikeEsxcliAdvanced(text: string): boolean {
  const head = text.slice(0, 65536);
  return /^\s*Path:\s*\/[A-Za-z]/m.test(head) && /^\s*(Int|String) Value:/m.test(head);
}

/**
 * Reads an ESXi advanced-settings export of either kind, told by its content: esxcli text or a PowerCLI CSV.
 * Throws `HyperwardError` E_UNSUPPORTED_FORMAT when it is neither.
 */
export function readEsxiExport(text: string, file: string, opts: EsxiExportOptions = {}): EsxiHost[] {
  if (looksLikeEsxcliAdvanced(text)) return [parseEsxcliAdvanced(text, file, opts)];
  return parsePowerCliAdvancedCsv(text, file, opts);
}
