/**
 * Reader for `/etc/pve/storage.cfg` (pvesm(1)): stanzas of a `type: id` header line followed by indented
 * `property value` lines, up to a blank line; `#` lines are comments. As Proxmox's SectionConfig does, lines it
 * cannot place are skipped, not fatal. A property without value (`sparse`) is a set flag, recorded as `1`.
 * Pure.
 */
import type { ConfigEntry } from '../../model/host.js';
import type { ProxmoxStorage } from '../../model/proxmox.js';
import { configError, dict, MAX_KEYS, MAX_SECTIONS, splitLines } from './text.js';

/**
 * Parses storage.cfg.
 *
 * @throws HyperwardError only for binary junk and the size and count caps
 * @example
 * parseProxmoxStorage('dir: local\n\tpath /var/lib/vz\n', '/etc/pve/storage.cfg')[0].properties.path.value;
 * // '/var/lib/vz'
 */
export function parseProxmoxStorage(text: string, file: string): ProxmoxStorage[] {
  const lines = splitLines(text, file, 'storage.cfg');
  const out: ProxmoxStorage[] = [];
  let cur: ProxmoxStorage | undefined;
  let keys = 0;
  for (const ln of lines) {
    const line = ln.text;
    if (/^\s*#/.test(line)) continue;
    if (line === '') {
      cur = undefined; // an empty line ends the stanza (a line of blanks does not, as in SectionConfig)
      continue;
    }
    if (/^\s*$/.test(line)) continue;
    const head = /^(\S+):\s*(\S+)\s*$/.exec(line);
    if (head) {
      if (out.length >= MAX_SECTIONS) {
        throw configError(
          'E_LIMIT',
          `more than ${MAX_SECTIONS} storages`,
          file,
          `storage.cfg line ${ln.no}`,
          text,
          ln.offset,
        );
      }
      cur = { type: head[1]!, id: head[2]!, file, line: ln.no, properties: dict<ConfigEntry>() };
      keys = 0;
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const prop = /^\s+(\S+)(?:\s+(.*\S))?\s*$/.exec(line);
    if (!prop) continue;
    const key = prop[1]!;
    if (!(key in cur.properties) && ++keys > MAX_KEYS) {
      throw configError(
        'E_LIMIT',
        `more than ${MAX_KEYS} properties`,
        file,
        `storage.cfg line ${ln.no}`,
        text,
        ln.offset,
      );
    }
    cur.properties[key] = { key, value: prop[2] ?? '1', file, line: ln.no };
  }
  return out;
}
