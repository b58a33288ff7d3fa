import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { parseFirewallRule, parseProxmoxFirewall, type FirewallKind } from './firewall.js';
import { fixtureText } from '../../../test/helpers/proxmox-tree.js';

const FIXTURES = readdirSync(new URL('../../../fixtures/proxmox/firewall/', import.meta.url)).sort();
const kindOf = (name: string): FirewallKind =>
  name.endsWith('cluster.fw') ? 'cluster' : name.endsWith('host.fw') ? 'host' : 'vm';

/** An independent reading: `key: value` lines between an [OPTIONS] header and the next header. */
function optionLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let inOptions = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inOptions = /^\[options\]$/i.test(line);
    else if (inOptions && !line.startsWith('#')) {
      const m = /^(\w+):\s*(.*)$/.exec(line);
      if (m) out.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
  }
  return out;
}

test('every real pve-firewall file parses; options match the file', () => {
  assert.ok(FIXTURES.length >= 8);
  for (const name of FIXTURES) {
    const text = fixtureText(`firewall/${name}`);
    const fw = parseProxmoxFirewall(text, `/etc/pve/firewall/${name}`, kindOf(name));
    const expected = optionLines(text);
    assert.deepEqual(
      Object.fromEntries(Object.entries(fw.options).map(([k, e]) => [k, e.value])),
      Object.fromEntries(expected),
      name,
    );
    for (const e of Object.values(fw.options)) {
      assert.equal(
        text.split('\n')[e.line - 1]!.trim().startsWith(`${e.key}:`),
        true,
        `${name}: line of ${e.key}`,
      );
    }
  }
});

test('groups, ipsets, aliases and rules of pve-firewall test data', () => {
  const groups = parseProxmoxFirewall(
    fixtureText('firewall/test-group1_cluster.fw'),
    'cluster.fw',
    'cluster',
  );
  assert.deepEqual(Object.keys(groups.groups), ['group1', 'group2', 'group3']);
  assert.equal(groups.groups.group1!.length, 4);
  assert.deepEqual(
    groups.groups.group1!.map((r) => `${r.type} ${r.action}`),
    ['in ACCEPT', 'in REJECT', 'out REJECT', 'out REJECT'],
  );

  const sets = parseProxmoxFirewall(fixtureText('firewall/test-ipset1_cluster.fw'), 'cluster.fw', 'cluster');
  assert.deepEqual(Object.keys(sets.ipsets), ['management', 'myipset', 'dmzhosts', 'blacklist']);
  assert.deepEqual(
    sets.ipsets.myipset!.map((e) => e.cidr),
    ['192.168.0.1', '172.16.0.10', '192.168.1.0/24', 'mynetworkalias', 'myserveralias'],
  );
  assert.equal(sets.aliases.myserveralias!.value, '10.2.0.111');

  const vm = parseProxmoxFirewall(fixtureText('firewall/test-vm-ipfilter1_100.fw'), '100.fw', 'vm');
  assert.deepEqual(Object.keys(vm.ipsets), ['ipfilter-net0', 'ipfilter-net2']);
  assert.equal(vm.ipsets['ipfilter-net2']!.length, 0, 'an empty set (with a comment on its header line)');
  assert.equal(vm.rules.length, 1);

  const rules = parseProxmoxFirewall(fixtureText('firewall/test-group1_100.fw'), '100.fw', 'vm');
  const last = rules.rules.at(-1)!;
  assert.equal(last.type, 'group');
  assert.equal(last.action, 'group2');
  assert.equal(last.iface, 'net0');

  const ex = parseProxmoxFirewall(fixtureText('firewall/example_cluster.fw'), 'cluster.fw', 'cluster');
  assert.equal(ex.rules[0]!.macro, 'SSH');
  assert.equal(ex.rules[0]!.action, 'ACCEPT');
  assert.deepEqual(ex.ignoredSections, ['[netgroup mynetgroup]']);
});

test('rule syntax: disabled rules, macros, comments', () => {
  const r = parseFirewallRule('|IN SSH(ACCEPT) -i net0 -source 10.0.0.1 # only admin', 7)!;
  assert.deepEqual(
    { ...r },
    {
      type: 'in',
      action: 'ACCEPT',
      macro: 'SSH',
      iface: 'net0',
      enabled: false,
      text: 'IN SSH(ACCEPT) -i net0 -source 10.0.0.1',
      line: 7,
    },
  );
  assert.equal(parseFirewallRule('IN', 1), undefined);
});

test('like pve-firewall: unknown headers open no section, and sections are per file kind', () => {
  // A header pve-firewall does not know leaves the lines after it in the section before (minimal edit of the
  // pve-firewall test file test-unconfigured/cluster.fw).
  const base = fixtureText('firewall/test-unconfigured_101.fw');
  const edited = base.replace('[OPTIONS]\n', '[OPTIONS]\n[VIRTUAL-GUEST]\n');
  const fw = parseProxmoxFirewall(edited, '101.fw', 'vm');
  assert.equal(fw.options.enable!.value, '1');
  assert.deepEqual(fw.ignoredSections, ['[VIRTUAL-GUEST]']);
  // [group] exists only in cluster.fw; [IPSET] and [ALIASES] not in host.fw.
  const vm = parseProxmoxFirewall(fixtureText('firewall/test-group1_cluster.fw'), '100.fw', 'vm');
  assert.deepEqual(Object.keys(vm.groups), []);
  const host = parseProxmoxFirewall(fixtureText('firewall/test-ipset1_cluster.fw'), 'host.fw', 'host');
  assert.deepEqual(Object.keys(host.ipsets), []);
  assert.deepEqual(Object.keys(host.aliases), []);
  // Lines before any section are skipped, as pve-firewall does.
  const pre = parseProxmoxFirewall(`enable: 1\n${base}`, 'x.fw', 'vm');
  assert.equal(pre.options.enable!.line, 4);
});

test('binary junk and oversize files are errors', () => {
  expectError(
    () => parseProxmoxFirewall('[OPTIONS]\nenable: 1\0', '/etc/pve/firewall/cluster.fw', 'cluster'),
    'E_UNSUPPORTED_FORMAT',
    {
      layer: /firewall config line 2/,
    },
  );
  expectError(() => parseProxmoxFirewall('#'.repeat(5 * 1024 * 1024), 'x.fw', 'vm'), 'E_LIMIT');
  expectError(() => parseProxmoxFirewall('[ipset a]\n'.repeat(10_001), 'x.fw', 'vm'), 'E_LIMIT');
});

test('property: hostile text and mutated real files never throw anything but HyperwardError', () => {
  const texts = FIXTURES.map((n) => fixtureText(`firewall/${n}`));
  const kinds: FirewallKind[] = ['cluster', 'host', 'vm'];
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), fc.constantFrom(...kinds), (s, k) =>
      onlyHyperwardErrors(() => parseProxmoxFirewall(s, 'x.fw', k)),
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.nat({ max: texts.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 8 }),
      fc.constantFrom(...kinds),
      (i, edits, k) => {
        let t = texts[i]!;
        for (const [at, s] of edits) {
          const p = at % (t.length + 1);
          t = t.slice(0, p) + s + t.slice(p + 1);
        }
        onlyHyperwardErrors(() => parseProxmoxFirewall(t, 'x.fw', k));
      },
    ),
    { numRuns: 300 },
  );
});

test('property: options, ipsets and rules written in the pve-firewall format read back the same', () => {
  const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,12}$/);
  const value = fc.stringMatching(/^[!-"$-~]([ -"$-~]{0,20}[!-"$-~])?$/);
  const setName = fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/);
  const cidr = fc.stringMatching(/^[0-9a-f.:/]{1,20}$/);
  fc.assert(
    fc.property(
      fc.dictionary(key, value, { maxKeys: 8 }),
      fc.dictionary(setName, fc.array(fc.tuple(fc.boolean(), cidr), { maxLength: 5 }), { maxKeys: 4 }),
      fc.array(
        fc.tuple(fc.boolean(), fc.constantFrom('IN', 'OUT'), fc.constantFrom('ACCEPT', 'DROP', 'REJECT')),
        {
          maxLength: 5,
        },
      ),
      (options, ipsets, rules) => {
        let text = '[OPTIONS]\n\n';
        for (const [k, v] of Object.entries(options)) text += `${k}: ${v}\n`;
        for (const [name, entries] of Object.entries(ipsets)) {
          text += `\n[IPSET ${name}] # a set\n`;
          for (const [nomatch, c] of entries) text += `${nomatch ? '!' : ''}${c} # entry\n`;
        }
        text += '\n[RULES]\n\n';
        for (const [disabled, dir, action] of rules)
          text += `${disabled ? '|' : ''}${dir} ${action} -p tcp -dport 22\n`;
        const fw = parseProxmoxFirewall(text, '100.fw', 'vm');
        assert.deepEqual(Object.fromEntries(Object.entries(fw.options).map(([k, e]) => [k, e.value])), {
          ...options,
        });
        assert.deepEqual(
          Object.fromEntries(
            Object.entries(fw.ipsets).map(([k, es]) => [k, es.map((e) => [e.nomatch, e.cidr])]),
          ),
          { ...ipsets },
        );
        assert.deepEqual(
          fw.rules.map((r) => [!r.enabled, r.type.toUpperCase(), r.action]),
          rules,
        );
      },
    ),
    { numRuns: 300 },
  );
});
