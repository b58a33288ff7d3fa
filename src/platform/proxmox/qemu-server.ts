/**
 * Reader for Proxmox qemu-server VM configurations (`/etc/pve/qemu-server/<vmid>.conf`, qm.conf(5)).
 *
 * The format, as qemu-server's `parse_vm_config` reads it: `key: value` lines; `#` lines are the description
 * (URL-encoded by `encode_text`), which also takes `description:` values; blank lines are skipped. The current
 * configuration is everything before the first `[section]` header; `[PENDING]` holds changes for the next
 * restart, `[special:cloudinit]` (and other `special:` sections) auxiliary state, and every other
 * `[name]` a snapshot. Snapshots are kept apart so that no check judges a past state as the current one.
 * Lines Proxmox would refuse (in its strict mode) are errors here, so that junk is reported, not scanned as an
 * empty, passing config. Pure; never writes.
 */
import type { ProxmoxSetting, ProxmoxSettings, ProxmoxVm, ProxmoxVmSection } from '../../model/proxmox.js';
import { parsePropertyString, type PropertyStringFormat } from './property-string.js';
import { configError, decodeText, dict, MAX_KEYS, MAX_SECTIONS, splitLines } from './text.js';

const KIND = 'qemu-server config';

/** Keys whose values are property strings, with their format's default key. */
export function vmPropertyFormat(key: string): PropertyStringFormat | undefined {
  if (/^net\d+$/.test(key)) return { defaultKey: 'model', nicModels: true };
  if (/^(usb|hostpci)\d+$/.test(key)) return { defaultKey: 'host' };
  if (/^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/.test(key)) return { defaultKey: 'file' };
  if (/^virtiofs\d+$/.test(key)) return { defaultKey: 'dirid' };
  switch (key) {
    case 'agent':
      return { defaultKey: 'enabled' };
    case 'vga':
    case 'machine':
    case 'amd-sev':
      return { defaultKey: 'type' };
    case 'cpu':
      return { defaultKey: 'cputype' };
    default:
      return undefined;
  }
}

/** A setting of `key` as written on `line`, with its property string split when the key takes one. */
export function makeSetting(
  key: string,
  value: string,
  file: string,
  line: number,
  format: PropertyStringFormat | undefined,
): ProxmoxSetting {
  const s: ProxmoxSetting = { key, value, file, line };
  if (format) {
    const r = parsePropertyString(value, format);
    if (r.ok) s.props = r.props;
    else s.propsError = r.error;
  }
  return s;
}

/** The VM id a file name gives: `100.conf` -> `100`; a loose file's base name without `.conf` otherwise. */
export function vmidFromFile(file: string): string {
  const base = file.slice(file.lastIndexOf('/') + 1);
  const m = /^(\d+)\.conf$/.exec(base);
  if (m) return m[1]!;
  return base.replace(/\.conf$/, '') || base || file;
}

interface Open {
  settings: ProxmoxSettings;
  descr: string | undefined;
  keys: number;
  section?: ProxmoxVmSection;
}

/**
 * Parses one qemu-server configuration.
 *
 * @param text the file's content
 * @param file the path it was read from (names the VM id and every piece of evidence)
 * @throws HyperwardError E_UNSUPPORTED_FORMAT for a line Proxmox would refuse, E_LIMIT past the size caps
 * @example
 * const vm = parseProxmoxVm('name: web\nnet0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n', '/etc/pve/qemu-server/100.conf');
 * vm.config.net0.props.model; // 'virtio'
 */
export function parseProxmoxVm(text: string, file: string): ProxmoxVm {
  const lines = splitLines(text, file, KIND);
  const vm: ProxmoxVm = { vmid: vmidFromFile(file), file, config: dict(), snapshots: [], special: [] };
  let cur: Open = { settings: vm.config, descr: undefined, keys: 0 };
  let sections = 0;

  const finish = (o: Open): void => {
    if (o.descr === undefined) return;
    const d = o.descr.replace(/\s+$/, '');
    if (o.section) o.section.description = d;
    else vm.description = d;
  };

  for (const ln of lines) {
    const line = ln.text;
    if (/^\s*$/.test(line)) continue;
    const where = `${KIND} line ${ln.no}`;

    const header = /^\[([^\]]*)\]\s*$/.exec(line);
    if (header) {
      if (++sections > MAX_SECTIONS) {
        throw configError('E_LIMIT', `more than ${MAX_SECTIONS} sections`, file, where, text, ln.offset);
      }
      const name = header[1]!;
      const section: ProxmoxVmSection = { name, line: ln.no, settings: dict() };
      finish(cur);
      if (/^PENDING$/i.test(name)) {
        section.name = 'PENDING';
        vm.pending = section;
      } else if (/^special:([a-z][a-z0-9_-]*)$/i.test(name)) {
        section.name = name.slice('special:'.length);
        vm.special.push(section);
      } else if (/^[a-z][a-z0-9_-]+$/i.test(name)) {
        vm.snapshots.push(section);
      } else {
        throw configError(
          'E_UNSUPPORTED_FORMAT',
          `invalid section header ${JSON.stringify(line.slice(0, 80))}`,
          file,
          where,
          text,
          ln.offset,
        );
      }
      cur = { settings: section.settings, descr: undefined, keys: 0, section };
      continue;
    }

    if (line.startsWith('#')) {
      cur.descr = (cur.descr ?? '') + decodeText(line.slice(1)) + '\n';
      continue;
    }

    const kv = /^([a-z][a-z0-9_-]*):[ \t]*(.*?)\s*$/.exec(line);
    if (!kv) {
      throw configError(
        'E_UNSUPPORTED_FORMAT',
        `not a "key: value" line: ${JSON.stringify(line.slice(0, 80))}`,
        file,
        where,
        text,
        ln.offset,
      );
    }
    const key = kv[1]!;
    const value = kv[2]!;
    if (key === 'description') {
      cur.descr = (cur.descr ?? '') + decodeText(value);
      continue;
    }
    if (!(key in cur.settings) && ++cur.keys > MAX_KEYS) {
      throw configError('E_LIMIT', `more than ${MAX_KEYS} keys in one section`, file, where, text, ln.offset);
    }
    cur.settings[key] = makeSetting(key, value, file, ln.no, vmPropertyFormat(key));
  }
  finish(cur);

  const name = vm.config.name?.value;
  if (name !== undefined && name !== '') vm.name = name;
  return vm;
}
