/**
 * Reader for Proxmox VE firewall files: `/etc/pve/firewall/cluster.fw`, `/etc/pve/firewall/<vmid>.fw` and
 * `/etc/pve/nodes/<node>/host.fw`.
 *
 * The format, as pve-firewall's `generic_fw_config_parser` reads it: lines are trimmed; `#` lines and blank
 * lines are skipped; section headers (case-insensitive) are `[OPTIONS]`, `[RULES]`, and — where the file kind
 * has them — `[ALIASES]`, `[IPSET name]` and `[group name]`. Options are `key: value`; rules are
 * `[|]DIRECTION ACTION [options] [# comment]`; ipset entries `[!]cidr [# comment]`; aliases `name cidr`.
 * Like pve-firewall, lines it cannot use are skipped rather than fatal (pve-firewall warns and goes on), so a
 * malformed `enable:` line leaves the documented default in force, exactly as on the host. Pure.
 */
import type { ConfigEntry } from '../../model/host.js';
import type { ProxmoxFirewall, ProxmoxFirewallRule } from '../../model/proxmox.js';
import { configError, dict, MAX_SECTIONS, splitLines } from './text.js';

/** Which file: sections allowed differ (`[group]` only in cluster.fw, no aliases or ipsets in host.fw). */
export type FirewallKind = 'cluster' | 'host' | 'vm';

type Section = { kind: 'options' | 'rules' | 'aliases' } | { kind: 'group' | 'ipset'; name: string };

/** Parses a rule line (`IN SSH(ACCEPT) -i net0 # comment`), or returns undefined when it is not one. */
export function parseFirewallRule(raw: string, line: number): ProxmoxFirewallRule | undefined {
  let text = raw;
  const hash = text.indexOf('#');
  if (hash >= 0) text = text.slice(0, hash);
  text = text.trim();
  let enabled = true;
  if (text.startsWith('|')) {
    enabled = false;
    text = text.slice(1).trim();
  }
  const m = /^(\S+)\s+(\S+)\s*(.*)$/.exec(text);
  if (!m) return undefined;
  const type = m[1]!.toLowerCase();
  let action = m[2]!;
  const rest = m[3]!;
  const rule: ProxmoxFirewallRule = { type, action, enabled, text, line };
  if (type === 'in' || type === 'out') {
    const macro = /^(\S+)\((ACCEPT|DROP|REJECT)\)$/.exec(action);
    if (macro) {
      rule.macro = macro[1]!;
      action = macro[2]!;
      rule.action = action;
    }
  }
  const iface = /(?:^|\s)-i\s+(\S+)/.exec(rest);
  if (iface) rule.iface = iface[1]!;
  return rule;
}

/**
 * Parses one firewall file.
 *
 * @param text the file's content
 * @param file its path, for evidence
 * @param kind which firewall file it is: decides which sections exist, as in pve-firewall
 * @throws HyperwardError only for binary junk (NUL bytes) and the size and section caps
 * @example
 * const fw = parseProxmoxFirewall('[OPTIONS]\nenable: 1\n', '/etc/pve/firewall/cluster.fw', 'cluster');
 * fw.options.enable.value; // '1'
 */
export function parseProxmoxFirewall(text: string, file: string, kind: FirewallKind): ProxmoxFirewall {
  const lines = splitLines(text, file, 'firewall config');
  const fw: ProxmoxFirewall = {
    file,
    options: dict(),
    rules: [],
    groups: dict(),
    ipsets: dict(),
    aliases: dict(),
    ignoredSections: [],
  };
  let section: Section | undefined;
  let sections = 0;

  for (const ln of lines) {
    const line = ln.text.trim();
    if (line === '' || line.startsWith('#')) continue;

    const next = line.startsWith('[') ? header(line, kind) : undefined;
    if (next) {
      if (++sections > MAX_SECTIONS) {
        throw configError(
          'E_LIMIT',
          `more than ${MAX_SECTIONS} sections`,
          file,
          `firewall config line ${ln.no}`,
          text,
          ln.offset,
        );
      }
      section = next;
      if (next.kind === 'group') fw.groups[next.name] ??= [];
      else if (next.kind === 'ipset') fw.ipsets[next.name] ??= [];
      continue;
    }
    // pve-firewall does not know this header here: like pve-firewall, read it as a line of the current section
    // (where it matches nothing), and go on in that section.
    if (/^\[[^\]]*\]/.test(line) && fw.ignoredSections.length < MAX_SECTIONS) {
      fw.ignoredSections.push(line.slice(0, 80));
    }
    if (!section) continue; // pve-firewall: "skip line - no section"

    switch (section.kind) {
      case 'options': {
        const m = /^([A-Za-z_][\w-]*):\s*(.*?)$/.exec(line);
        if (m) fw.options[m[1]!.toLowerCase()] = entry(m[1]!, m[2]!, file, ln.no);
        break;
      }
      case 'rules': {
        const r = parseFirewallRule(line, ln.no);
        if (r) fw.rules.push(r);
        break;
      }
      case 'group': {
        const r = parseFirewallRule(line, ln.no);
        if (r) fw.groups[section.name]!.push(r);
        break;
      }
      case 'ipset': {
        const m = /^(!)?\s*(\S+)\s*$/.exec(stripComment(line));
        if (m) fw.ipsets[section.name]!.push({ cidr: m[2]!, nomatch: m[1] === '!', line: ln.no });
        break;
      }
      case 'aliases': {
        const m = /^(\S+)\s+(\S+)$/.exec(stripComment(line));
        if (m) fw.aliases[m[1]!.toLowerCase()] = entry(m[1]!, m[2]!, file, ln.no);
        break;
      }
    }
  }
  return fw;
}

function stripComment(line: string): string {
  const hash = line.indexOf('#');
  return (hash >= 0 ? line.slice(0, hash) : line).trim();
}

function entry(key: string, value: string, file: string, line: number): ConfigEntry {
  return { key, value, file, line };
}

/** The section a header line opens, or undefined when the line is not a header (pve-firewall's regexes). */
function header(line: string, kind: FirewallKind): Section | undefined {
  if (/^\[options\]$/i.test(line)) return { kind: 'options' };
  if (/^\[rules\]$/i.test(line)) return { kind: 'rules' };
  if (kind !== 'host' && /^\[aliases\]$/i.test(line)) return { kind: 'aliases' };
  const named = /^\[(group|ipset)\s+(\S+)\]\s*(?:#.*)?$/i.exec(line);
  if (named) {
    const what = named[1]!.toLowerCase() as 'group' | 'ipset';
    const allowed = what === 'group' ? kind === 'cluster' : kind !== 'host';
    return allowed ? { kind: what, name: named[2]!.toLowerCase() } : undefined;
  }
  return undefined;
}
