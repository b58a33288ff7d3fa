/**
 * Reader for `/etc/pve/datacenter.cfg` (datacenter.cfg(5)): cluster-wide defaults as `key: value` lines; `#`
 * lines are the datacenter description (URL-encoded). As in Proxmox's `parse_config`, a line that is not
 * `key: value` is skipped ("ignore config line") rather than fatal. Property-string values (`migration:
 * type=secure,network=10.0.0.0/24`) are split. Pure.
 */
import type { ProxmoxDatacenter } from '../../model/proxmox.js';
import type { PropertyStringFormat } from './property-string.js';
import { makeSetting } from './qemu-server.js';
import { decodeText, dict, MAX_KEYS, splitLines, configError } from './text.js';

/** datacenter.cfg keys whose values are property strings (PVE::DataCenterConfig), with their default key. */
export function datacenterPropertyFormat(key: string): PropertyStringFormat | undefined {
  switch (key) {
    case 'migration':
    case 'replication':
      return { defaultKey: 'type' };
    case 'bwlimit':
    case 'crs':
    case 'ha':
    case 'next-id':
    case 'notify':
    case 'tag-style':
    case 'u2f':
    case 'user-tag-access':
    case 'webauthn':
      return {};
    default:
      return undefined;
  }
}

/**
 * Parses datacenter.cfg.
 *
 * @throws HyperwardError only for binary junk and the size caps
 * @example
 * parseProxmoxDatacenter('migration: type=insecure\n', '/etc/pve/datacenter.cfg').settings.migration.props.type;
 * // 'insecure'
 */
export function parseProxmoxDatacenter(text: string, file: string): ProxmoxDatacenter {
  const lines = splitLines(text, file, 'datacenter.cfg');
  const dc: ProxmoxDatacenter = { file, settings: dict() };
  let descr: string | undefined;
  let keys = 0;
  for (const ln of lines) {
    if (ln.text.startsWith('#')) {
      descr = (descr ?? '') + decodeText(ln.text.slice(1)) + '\n';
      continue;
    }
    const line = ln.text.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?):\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!;
    if (key === 'description') {
      descr = (descr ?? '') + decodeText(m[2]!);
      continue;
    }
    if (!(key in dc.settings) && ++keys > MAX_KEYS) {
      throw configError(
        'E_LIMIT',
        `more than ${MAX_KEYS} keys`,
        file,
        `datacenter.cfg line ${ln.no}`,
        text,
        ln.offset,
      );
    }
    dc.settings[key] = makeSetting(key, m[2]!, file, ln.no, datacenterPropertyFormat(key));
  }
  if (descr !== undefined) dc.description = descr.replace(/\s+$/, '');
  return dc;
}
