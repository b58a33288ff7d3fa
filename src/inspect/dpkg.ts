import { HyperwardError } from '../errors.js';
import type { Package } from '../model/inventory.js';

/** dpkg states in which a package's files are on disk (everything but `not-installed` and `config-files`). */
const PRESENT_STATES = new Set([
  'installed',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
]);

const MAX_PARAGRAPHS = 500_000;
const MAX_FIELD = 1024 * 1024;

export type Paragraph = Map<string, string>;

/**
 * Splits a deb822 control file (dpkg `status`, `status.d/*`) into paragraphs of fields. Field names are
 * case-insensitive (stored lowercase); continuation lines are joined with newlines. Malformed lines are skipped.
 */
export function parseDeb822(text: string, file: string): Paragraph[] {
  const out: Paragraph[] = [];
  let cur: Paragraph = new Map();
  let last: string | undefined;
  const flush = (): void => {
    if (cur.size > 0) {
      if (out.length >= MAX_PARAGRAPHS) {
        throw new HyperwardError('E_LIMIT', `more than ${MAX_PARAGRAPHS} paragraphs`, {
          file,
          layer: 'dpkg database',
        });
      }
      out.push(cur);
    }
    cur = new Map();
    last = undefined;
  };
  let pos = 0;
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.charCodeAt(nl - 1) === 13 ? text.slice(pos, nl - 1) : text.slice(pos, nl);
    pos = nl + 1;
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (line.startsWith('#')) continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last !== undefined) {
        const prev = cur.get(last)!;
        if (prev.length < MAX_FIELD) cur.set(last, prev + '\n' + line.slice(1));
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    cur.set(last, line.slice(colon + 1).trim());
  }
  flush();
  return out;
}

/**
 * Installed packages from a dpkg database file. Packages in `status.d/` (distroless images) carry no `Status`
 * and count as installed.
 */
export function parseDpkgStatus(text: string, file: string): Package[] {
  const pkgs: Package[] = [];
  for (const p of parseDeb822(text, file)) {
    const name = p.get('package');
    const version = p.get('version');
    if (!name || !version) continue;
    const status = p.get('status');
    if (status !== undefined) {
      const state = status.split(/\s+/)[2];
      if (state === undefined || !PRESENT_STATES.has(state)) continue;
    }
    let sourceName = name;
    let sourceVersion = version;
    const src = p.get('source');
    if (src) {
      const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(src);
      if (m) {
        sourceName = m[1]!;
        if (m[2]) sourceVersion = m[2].trim();
      }
    }
    const pkg: Package = {
      ecosystem: 'deb',
      name,
      version,
      arch: p.get('architecture') ?? '',
      sourceName,
      sourceVersion,
      source: file,
    };
    const maint = p.get('maintainer');
    if (maint) pkg.maintainer = maint;
    const size = Number(p.get('installed-size'));
    if (Number.isSafeInteger(size) && size >= 0) pkg.installedSize = size;
    pkgs.push(pkg);
  }
  return pkgs;
}
