import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { parseProxmoxVm, vmidFromFile } from './qemu-server.js';
import { fixtureText } from '../../../test/helpers/proxmox-tree.js';

const FIXTURES = readdirSync(new URL('../../../fixtures/proxmox/qemu-server/', import.meta.url)).sort();

/** An independent reading of the real file: the `key: value` lines before the first `[section]` header. */
function currentKeys(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) break;
    const i = line.indexOf(': ');
    if (line.startsWith('#') || i < 0) continue;
    if (line.slice(0, i) !== 'description') out.set(line.slice(0, i), line.slice(i + 2).trimEnd());
  }
  return out;
}

test('every real qemu-server config parses; the current config is exactly the lines before the first section', () => {
  assert.ok(FIXTURES.length >= 10);
  for (const name of FIXTURES) {
    const text = fixtureText(`qemu-server/${name}`);
    const vm = parseProxmoxVm(text, `/etc/pve/qemu-server/${name}`);
    const expected = currentKeys(text);
    assert.deepEqual(
      Object.keys(vm.config).sort(),
      [...expected.keys()].sort(),
      `${name}: keys of the current config`,
    );
    for (const [k, v] of expected) {
      assert.equal(vm.config[k]!.value, v, `${name}: ${k}`);
      assert.equal(vm.config[k]!.file, `/etc/pve/qemu-server/${name}`);
      const lineNo = text.split('\n').findIndex((l) => l.startsWith(`${k}: `)) + 1;
      assert.equal(vm.config[k]!.line, lineNo, `${name}: line of ${k}`);
    }
    assert.equal(vm.name, expected.get('name'));
    const headers = text.split('\n').filter((l) => /^\[/.test(l));
    assert.equal(vm.snapshots.length + vm.special.length + (vm.pending ? 1 : 0), headers.length, name);
  }
});

test('snapshots are kept apart from the current config (qemu-server parse-config-input/snapshots.conf)', () => {
  const text = fixtureText('qemu-server/parse-config-input_snapshots.conf');
  const vm = parseProxmoxVm(text, '/etc/pve/qemu-server/111.conf');
  const headers = [...text.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]);
  assert.deepEqual(
    vm.snapshots.map((s) => s.name),
    headers,
  );
  // Every snapshot carries its own snaptime; the current config has none, and its `parent` is the last snapshot.
  assert.equal(vm.config.snaptime, undefined);
  assert.equal(vm.config.parent!.value, 'win19_5_2_plus_stuff');
  for (const s of vm.snapshots) assert.match(s.settings.snaptime!.value, /^\d+$/, s.name);
  // machine_version_5_1 has net0 as e1000; the current config has virtio: no bleeding between sections.
  const snap = vm.snapshots.find((s) => s.name === 'machine_version_5_1')!;
  assert.equal(snap.settings.net0!.props!.model, 'e1000');
  assert.equal(vm.config.net0!.props!.model, 'virtio');
  assert.equal(snap.settings.net1, undefined);
  assert.equal(snap.line, text.split('\n').indexOf('[machine_version_5_1]') + 1);
});

test('property strings: NIC model=MAC, the default key of hostpci and usb', () => {
  const vm = parseProxmoxVm(fixtureText('qemu-server/parse-config-input_snapshots.conf'), '/x/111.conf');
  assert.deepEqual(
    { ...vm.config.net0!.props },
    { model: 'virtio', macaddr: 'BC:24:11:A3:DA:B1', bridge: 'vnet0', firewall: '1' },
  );
  const pci = parseProxmoxVm(fixtureText('qemu-server/q35-linux-hostpci.conf'), '/x/100.conf');
  assert.deepEqual({ ...pci.config.hostpci4!.props }, { host: 'd0:17.0', pcie: '1', rombar: '0' });
  const usb = parseProxmoxVm(fixtureText('qemu-server/qemu-xhci-7.1.conf'), '/x/100.conf');
  assert.equal(usb.config.usb1!.props!.host, 'spice');
  assert.equal(usb.config.usb13!.props!.host, '1-14');
  const cpu = parseProxmoxVm(fixtureText('qemu-server/cpu-level.conf'), '/x/100.conf');
  assert.deepEqual(
    { ...cpu.config.cpu!.props },
    { cputype: 'host', level: '30', flags: '+md-clear;+pdpe1gb;-hv-tlbflush' },
  );
  // args: is not a property string.
  const args = parseProxmoxVm(fixtureText('qemu-server/technomagniaque-pve_222.conf'), '/x/222.conf');
  assert.equal(args.config.args!.props, undefined);
  assert.match(args.config.args!.value, /^-device isa-applesmc,osk="/);
});

test('the description: top # lines, URL-decoded (alexjbarnes/HomeLab qemu-server/200.conf)', () => {
  const text = fixtureText('qemu-server/HomeLab_200.conf');
  const vm = parseProxmoxVm(text, '/etc/pve/qemu-server/200.conf');
  const comments = text
    .split('\n')
    .filter((l) => l.startsWith('#'))
    .map((l) => decodeURIComponent(l.slice(1)));
  assert.equal(vm.description, comments.join('\n'));
  assert.match(vm.description!, /^scsi1: Odroid_PVE:200\//);
  // `description:` values join the # lines, as in qemu-server.
  const withKey = parseProxmoxVm('#first%20line\ndescription: more%0Atext\nname: x\n', '/x/1.conf');
  assert.equal(withKey.description, 'first line\nmore\ntext');
  assert.equal(withKey.config.description, undefined);
});

test('[PENDING] and [special:...] sections (minimal edits of parse-config-input/plain.conf)', () => {
  const base = fixtureText('qemu-server/parse-config-input_plain.conf');
  const text = `${base}\n[PENDING]\nargs: -no-reboot\ndelete: numa\n\n[special:cloudinit]\nipconfig0: ip=dhcp\nname: apache\n`;
  const vm = parseProxmoxVm(text, '/etc/pve/qemu-server/142.conf');
  assert.equal(vm.config.args, undefined, 'pending args are not current');
  assert.equal(vm.pending!.settings.args!.value, '-no-reboot');
  assert.equal(vm.pending!.settings.delete!.value, 'numa');
  assert.deepEqual(
    vm.special.map((s) => s.name),
    ['cloudinit'],
  );
  assert.equal(vm.special[0]!.settings.ipconfig0!.value, 'ip=dhcp');
  assert.equal(vm.snapshots.length, 0);
  // The fleecing section of qemu-server's own test data.
  const fl = parseProxmoxVm(
    fixtureText('qemu-server/parse-config-input_fleecing-section.conf'),
    '/x/120.conf',
  );
  assert.equal(fl.special[0]!.name, 'fleecing');
  assert.equal(fl.special[0]!.settings['fleecing-images']!.value, 'zfs:vm-120-fleece-0');
});

test('the VM id comes from <vmid>.conf; loose files keep their base name', () => {
  assert.equal(vmidFromFile('/etc/pve/nodes/pve1/qemu-server/4711.conf'), '4711');
  assert.equal(vmidFromFile('fixtures/qemu-xhci-7.1.conf'), 'qemu-xhci-7.1');
  assert.equal(parseProxmoxVm('name: a\n', '100.conf').vmid, '100');
});

test('lines Proxmox would refuse are errors naming the file, line and byte offset', () => {
  const base = fixtureText('qemu-server/netdev.conf');
  const lines = base.split('\n');
  const bad = [...lines.slice(0, 3), 'this is not a setting', ...lines.slice(3)].join('\n');
  const e = expectError(() => parseProxmoxVm(bad, '/etc/pve/qemu-server/9.conf'), 'E_UNSUPPORTED_FORMAT', {
    layer: /line 4$/,
  });
  assert.equal(e.location.file, '/etc/pve/qemu-server/9.conf');
  assert.equal(e.location.offset, Buffer.byteLength(lines.slice(0, 3).join('\n') + '\n'));
  expectError(
    () => parseProxmoxVm(`${base}\n[1snap]\n`, '/x/9.conf'),
    'E_UNSUPPORTED_FORMAT',
    /section header/,
  );
  expectError(() => parseProxmoxVm(`${base}\0\0`, '/x/9.conf'), 'E_UNSUPPORTED_FORMAT', /NUL/);
  expectError(() => parseProxmoxVm('a: b\n'.repeat(1_000_000), '/x/9.conf'), 'E_LIMIT');
});

test('property: a config written as qemu-server writes it reads back the same', () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/).filter((k) => k !== 'description');
  const value = fc.stringMatching(/^[!-~]([ -~]{0,40}[!-~])?$/);
  const section = fc.dictionary(key, value, { maxKeys: 12 });
  const snapName = fc.stringMatching(/^[a-z][a-z0-9_-]{1,15}$/).filter((n) => n.toLowerCase() !== 'pending');
  fc.assert(
    fc.property(
      section,
      fc.dictionary(snapName, section, { maxKeys: 4 }),
      fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }),
      (current, snaps, descr) => {
        // qemu-server's write_vm_config: description as encoded # lines, sorted keys, then each snapshot.
        const enc = (s: string) =>
          s.replace(/[%\n\r]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
        let text = descr.map((d) => `#${enc(d)}\n`).join('');
        for (const k of Object.keys(current).sort()) text += `${k}: ${current[k]}\n`;
        for (const name of Object.keys(snaps)) {
          text += `\n[${name}]\n`;
          for (const [k, v] of Object.entries(snaps[name]!)) text += `${k}: ${v}\n`;
        }
        const vm = parseProxmoxVm(text, '/etc/pve/qemu-server/100.conf');
        assert.deepEqual(Object.fromEntries(Object.entries(vm.config).map(([k, s]) => [k, s.value])), {
          ...current,
        });
        assert.deepEqual(
          vm.snapshots.map((s) => [
            s.name,
            Object.fromEntries(Object.entries(s.settings).map(([k, v]) => [k, v.value])),
          ]),
          Object.entries(snaps).map(([n, s]) => [n, { ...s }]),
        );
        const expectedDescr = descr.length ? descr.join('\n').replace(/\s+$/, '') : undefined;
        assert.equal(vm.description, expectedDescr);
      },
    ),
    { numRuns: 300 },
  );
});

test('property: hostile text and mutated real configs never throw anything but HyperwardError', () => {
  const texts = FIXTURES.map((n) => fixtureText(`qemu-server/${n}`));
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (s) =>
      onlyHyperwardErrors(() => parseProxmoxVm(s, '/x/1.conf')),
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.nat({ max: texts.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 8 }),
      fc.nat(),
      (i, edits, cut) => {
        let t = texts[i]!;
        for (const [at, s] of edits) {
          const p = at % (t.length + 1);
          t = t.slice(0, p) + s + t.slice(p + 1);
        }
        t = t.slice(0, cut % (t.length + 1));
        onlyHyperwardErrors(() => parseProxmoxVm(t, '/x/1.conf'));
      },
    ),
    { numRuns: 400 },
  );
});
