/** What kind of configuration a file holds, told by its content (never by its name). */
export type ConfigKind =
  | 'libvirt-domain'
  | 'libvirt-network'
  | 'libvirt-nwfilter'
  | 'vmx'
  | 'proxmox-vm'
  | 'esxcli-advanced'
  | 'powercli-advanced'
  | 'unknown';

const PROXMOX_KEYS =
  /^(boot|bootdisk|cores|memory|name|net\d+|ostype|scsi\d+|scsihw|virtio\d+|ide\d+|sata\d+|smbios1|vmgenid|sockets|cpu|hostpci\d+|args|agent|numa|machine|efidisk\d|tpmstate\d|usb\d+|serial\d|vga|onboot|balloon|meta):\s/;

/** Detects the configuration kind from the first 64 KiB of a file. */
export function detectConfigKind(head: string): ConfigKind {
  const text = head.replace(/^\uFEFF/, '');
  // XML: skip the declaration and comments, then look at the root element's name.
  // A DOCTYPE (with an internal subset) is skipped here so the file reaches the XML layer, which refuses it with
  // the reason (no DTDs, no entities) instead of an "unrecognised content" message.
  const root =
    /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*|<!DOCTYPE[^[>]*(?:\[[\s\S]*?\])?\s*>\s*)*<([A-Za-z][\w:.-]*)/i.exec(
      text,
    );
  if (root) {
    switch (root[1]) {
      case 'domain':
        return 'libvirt-domain';
      case 'network':
        return 'libvirt-network';
      case 'filter':
        return 'libvirt-nwfilter';
      default:
        return 'unknown';
    }
  }
  const lines = text.split('\n', 2000);
  if (lines.some((l) => /^\s*(config\.version|virtualhw\.version|displayname|guestos)\s*=\s*"/i.test(l)))
    return 'vmx';
  if (lines.filter((l) => PROXMOX_KEYS.test(l)).length >= 2) return 'proxmox-vm';
  if (
    lines.some((l) => /^\s*Path:\s*\/[A-Za-z]/.test(l)) &&
    lines.some((l) => /^\s*(Int|String) Value:/.test(l))
  ) {
    return 'esxcli-advanced';
  }
  // PowerCLI `Get-AdvancedSetting | Export-Csv`: a header with Name and Value columns, in any order.
  const header = lines.find((l) => l.trim() !== '' && !l.startsWith('#TYPE'));
  if (header) {
    const cols = header.split(/[,;]/).map((c) => c.trim().replace(/^"|"$/g, ''));
    if (cols.includes('Name') && cols.includes('Value')) return 'powercli-advanced';
  }
  return 'unknown';
}
