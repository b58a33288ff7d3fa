/**
 * Proxmox property strings: `virtio=BC:24:11:A3:DA:B1,bridge=vmbr0,firewall=1,tag=10`. Comma-separated
 * `key=value` parts; one part without `=` is the value of the format's default key. There is no quoting or
 * escaping: Proxmox splits on every comma. Pure.
 */
import { dict } from './text.js';

/** NIC models: in `netN`, `virtio=MAC` means model=virtio, macaddr=MAC (qemu-server's `$nic_model_list`). */
export const NIC_MODELS: ReadonlySet<string> = new Set([
  'e1000',
  'e1000-82540em',
  'e1000-82544gc',
  'e1000-82545em',
  'e1000e',
  'i82551',
  'i82557b',
  'i82559er',
  'ne2k_isa',
  'ne2k_pci',
  'pcnet',
  'rtl8139',
  'virtio',
  'vmxnet3',
]);

/** Most parts in one property string. */
const MAX_PARTS = 1000;

export interface PropertyStringFormat {
  /** The key an unnamed part sets (`model` for NICs, `host` for PCI/USB devices, `file` for disks). */
  defaultKey?: string;
  /** `netN`: a NIC model used as key sets `model` to the key and `macaddr` to the value. */
  nicModels?: boolean;
}

export type PropertyStringResult = { ok: true; props: Record<string, string> } | { ok: false; error: string };

/**
 * Splits a property string the way Proxmox's `parse_property_string` does, without a schema: duplicate keys,
 * `key=` without value, and unnamed parts where the format has no default key (or a second one) are errors, as
 * they are for Proxmox. Returns a result, never throws.
 *
 * @example
 * parsePropertyString('virtio=BC:24:11:A3:DA:B1,bridge=vmbr0,firewall=1', { defaultKey: 'model', nicModels: true })
 * // { ok: true, props: { model: 'virtio', macaddr: 'BC:24:11:A3:DA:B1', bridge: 'vmbr0', firewall: '1' } }
 */
export function parsePropertyString(text: string, format: PropertyStringFormat = {}): PropertyStringResult {
  const props = dict<string>();
  const parts = text.split(',', MAX_PARTS + 1);
  if (parts.length > MAX_PARTS) return { ok: false, error: `more than ${MAX_PARTS} comma-separated parts` };
  let sawDefault = false;
  for (const part of parts) {
    if (/^\s*$/.test(part)) continue;
    const eq = part.indexOf('=');
    if (eq > 0 && eq < part.length - 1) {
      let k = part.slice(0, eq);
      const v = part.slice(eq + 1);
      if (format.nicModels && NIC_MODELS.has(k)) {
        if (props.model !== undefined) return { ok: false, error: `duplicate key in property string: model` };
        props.model = k;
        k = 'macaddr';
      }
      if (props[k] !== undefined) return { ok: false, error: `duplicate key in property string: ${k}` };
      props[k] = v;
    } else if (eq < 0) {
      const dk = format.defaultKey;
      if (dk === undefined)
        return { ok: false, error: `value without key, and this property has no default key` };
      if (sawDefault || props[dk] !== undefined) {
        return { ok: false, error: `duplicate key in property string: ${dk}` };
      }
      sawDefault = true;
      props[dk] = part;
    } else {
      return { ok: false, error: `missing key or value in property string part ${JSON.stringify(part)}` };
    }
  }
  return { ok: true, props };
}
