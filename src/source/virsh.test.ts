import assert from 'node:assert/strict';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isHyperwardError, type HyperwardError } from '../errors.js';
import { assess } from '../checks/engine.js';
import { kvmVmChecks } from '../checks/kvm/vm-index.js';
import type { HostInventory } from '../model/host.js';
import type { LibvirtDomain } from '../model/kvm.js';
import { parseDomainXml } from '../platform/libvirt/domain.js';
import { parseNetworkXml } from '../platform/libvirt/network.js';
import {
  fixturePath,
  fixtureText,
  hostWithQemuConf,
  inventoryOf,
  LIBVIRT_FIXTURES,
} from '../../test/helpers/libvirt-fixtures.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { localVirshExec, nwfilterListUuids, readVirsh, type VirshInventory } from './virsh.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALLOWED = new Set(['list', 'dumpxml', 'net-list', 'net-dumpxml', 'nwfilter-list', 'nwfilter-dumpxml']);
const FILTERREF =
  "<filterref filter='clean-traffic'>\n        <parameter name='IP' value='10.0.0.1'/>\n      </filterref>\n    </interface>";

let tmp: { dir: string; cleanup: () => void };
let nodeXml: string;
/** The domain files the node holds (fixture copies with a unique name and UUID each), parsed directly. */
const direct = new Map<string, LibvirtDomain>();
let viaVirsh: VirshInventory;
const calls: string[][] = [];

before(async () => {
  run('virsh', ['--version']); // fails loudly when libvirt-clients is missing
  tmp = tempDir('hyperward-virsh-');
  const names = readdirSync(join(LIBVIRT_FIXTURES, 'domains'))
    .filter((f) => f.endsWith('.xml'))
    .map((f) => f.slice(0, -4))
    .sort();
  const entries: string[] = [];
  names.forEach((name, i) => {
    // Minimal edits: every libvirt fixture is called QEMUGuest1 with the same UUID, and a node needs them unique;
    // one interface gets a filterref so the filter survives the round trip.
    let text = fixtureText(`domains/${name}.xml`)
      .replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`)
      .replace(
        /<uuid>[^<]*<\/uuid>/,
        `<uuid>00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}</uuid>`,
      );
    if (name === 'net-virtio-network-portgroup') text = text.replace('</interface>', FILTERREF);
    const path = join(tmp.dir, `${name}.xml`);
    writeFileSync(path, text);
    direct.set(name, parseDomainXml(text, path));
    entries.push(`  <domain file='${path}'/>`);
  });
  entries.push(`  <network file='${fixturePath('networks/nat-network.xml')}'/>`);
  nodeXml = join(tmp.dir, 'node.xml');
  writeFileSync(nodeXml, `<node>\n${entries.join('\n')}\n</node>\n`);
  const exec = localVirshExec();
  viaVirsh = await readVirsh({
    uri: `test://${nodeXml}`,
    exec: (args) => {
      calls.push([...args]);
      return exec(args);
    },
  });
});

after(() => tmp?.cleanup());

async function rejection(p: Promise<unknown>): Promise<HyperwardError> {
  try {
    await p;
  } catch (e) {
    if (isHyperwardError(e)) return e;
    throw e;
  }
  assert.fail('expected a HyperwardError');
}

/** A stand-in virsh (a shell script) for failure modes the real one cannot be made to show. */
function fakeVirsh(name: string, body: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test('the test driver yields every domain of the node, read-only, addressed by UUID', () => {
  assert.equal(viaVirsh.uri, `test://${nodeXml}`);
  assert.deepEqual(viaVirsh.unreadable, []);
  assert.deepEqual(viaVirsh.domains.map((d) => d.name).sort(), [...direct.keys()].sort());
  for (const d of viaVirsh.domains) {
    assert.equal(d.passwordsRedacted, true);
    assert.equal(d.uuid, direct.get(d.name)!.uuid);
    assert.equal(d.file, `virsh -c test://${nodeXml} dumpxml ${d.uuid}`);
  }
  assert.ok(calls.length >= direct.size + 2);
  for (const c of calls) {
    assert.deepEqual(c.slice(0, 4), ['--readonly', '--quiet', '--connect', `test://${nodeXml}`]);
    assert.ok(ALLOWED.has(c[4]!), c.join(' '));
    if (c[4]!.endsWith('dumpxml')) assert.match(c[6]!, UUID);
  }
});

test('what libvirt returns matches the files: labels, devices, endpoints, filters', () => {
  for (const v of viaVirsh.domains) {
    const d = direct.get(v.name)!;
    const key = v.name;
    assert.equal(v.type, d.type, key);
    assert.deepEqual(
      v.seclabels.map((s) => [s.type, s.model]),
      d.seclabels.map((s) => [s.type, s.model]),
      key,
    );
    assert.deepEqual(
      v.hostdevs.map((h) => [h.mode, h.type, h.source]),
      d.hostdevs.map((h) => [h.mode, h.type, h.source]),
      key,
    );
    assert.deepEqual(
      v.disks.map((x) => [x.target, x.source, x.shareable, x.readonly]),
      d.disks.map((x) => [x.target, x.source, x.shareable, x.readonly]),
      key,
    );
    assert.deepEqual(
      v.redirdevs.map((r) => [r.bus, r.type]),
      d.redirdevs.map((r) => [r.bus, r.type]),
      key,
    );
    assert.equal(v.redirfilter?.rules.length, d.redirfilter?.rules.length, key);
    assert.deepEqual(
      v.interfaces.map((i) => [i.type, i.mac, i.source, i.filterref?.filter, i.filterref?.parameters]),
      d.interfaces.map((i) => [i.type, i.mac, i.source, i.filterref?.filter, i.filterref?.parameters]),
      key,
    );
    // libvirt adds a <console> mirroring serial 0, so compare the other character devices.
    const chars = (dom: LibvirtDomain) =>
      dom.chardevs
        .filter((c) => c.device !== 'console')
        .map((c) => [c.device, c.type, c.protocol, c.sources]);
    assert.deepEqual(chars(v), chars(d), key);
    // Graphics: same kinds and explicit endpoints; the password is never printed without --security-info.
    // (libvirt also copies a socket listen into the legacy socket attribute.)
    const ends = (dom: LibvirtDomain) =>
      dom.graphics.map((g) => [
        g.type,
        ...new Set(
          [g.socket, ...g.listens.map((l) => l.address ?? l.network ?? l.socket)].filter(
            (x) => x !== undefined,
          ),
        ),
      ]);
    assert.deepEqual(ends(v), ends(d), key);
    assert.ok(
      v.graphics.every((g) => g.passwd === 'absent'),
      key,
    );
  }
  assert.deepEqual(
    viaVirsh.domains.find((d) => d.name === 'net-virtio-network-portgroup')?.interfaces[0]?.filterref?.filter,
    'clean-traffic',
  );
});

test('the kvm.vm checks judge virsh output as they judge the files', () => {
  const judge = (domains: LibvirtDomain[]): Map<string, string> => {
    // Both sides on a host with Debian's shipped qemu.conf, so a display without a listen address is judged by
    // the host's default rather than left unknown.
    const inv: HostInventory = inventoryOf(...domains);
    inv.kvm = hostWithQemuConf();
    const out = new Map<string, string>();
    for (const f of assess(inv, kvmVmChecks, { name: 'all' }))
      out.set(`${f.checkId} ${f.resource.id}`, f.status);
    return out;
  };
  const fromFiles = judge([...direct.values()]);
  const fromVirsh = judge(viaVirsh.domains);
  assert.equal(fromVirsh.size, fromFiles.size);
  let compared = 0;
  for (const [k, fileStatus] of fromFiles) {
    const virshStatus = fromVirsh.get(k);
    if (k.startsWith('kvm.vm.qemu-passthrough-args ')) {
      // libvirt's test driver does not keep the QEMU driver's namespace: no pass-through survives it.
      assert.equal(virshStatus, 'pass', k);
    } else if (k.startsWith('kvm.vm.console-unauthenticated ') && fileStatus === 'fail') {
      // virsh strips passwords: an exposed display without one cannot be told from one with a password.
      assert.equal(virshStatus, 'unknown', k);
    } else {
      assert.equal(virshStatus, fileStatus, k);
      compared++;
    }
  }
  assert.ok(compared > 6 * direct.size);
  // The display with a password (and passwdValidTo) stays a pass through virsh, by inference.
  assert.equal(fromFiles.get('kvm.vm.console-unauthenticated vm/graphics-spice-timeout'), 'pass');
  assert.ok([...fromFiles.values()].filter((s) => s === 'fail').length >= 10);
});

test('networks come back as the file defines them; the test driver has no nwfilters', () => {
  const file = parseNetworkXml(fixtureText('networks/nat-network.xml'), 'nat-network.xml');
  assert.equal(viaVirsh.networks.length, 1);
  const n = viaVirsh.networks[0]!;
  assert.deepEqual(
    [n.name, n.uuid, n.forwardMode, n.forwardDev, n.bridge?.name],
    [file.name, file.uuid, file.forwardMode, file.forwardDev, file.bridge?.name],
  );
  assert.deepEqual(
    n.ips.map((i) => [i.address, i.netmask, i.dhcpRanges]),
    file.ips.map((i) => [i.address, i.netmask, i.dhcpRanges]),
  );
  assert.equal(viaVirsh.nwfilters, undefined);
});

test('connection failures reject with a HyperwardError; bad URIs are refused before running anything', async () => {
  const missing = await rejection(
    readVirsh({ uri: 'test:///default', binary: join(tmp.dir, 'no-such-virsh') }),
  );
  assert.equal(missing.code, 'E_NOT_FOUND');
  assert.match(missing.message, /libvirt-clients/);
  const unreachable = await rejection(readVirsh({ uri: `test://${join(tmp.dir, 'missing-node.xml')}` }));
  assert.equal(unreachable.code, 'E_IO');
  assert.match(unreachable.message, /virsh .*list --all --uuid/);
  for (const uri of ['', '-c', 'qemu:///system\n--readonly', 'x\0y']) {
    assert.equal((await rejection(readVirsh({ uri }))).code, 'E_USAGE', JSON.stringify(uri));
  }
});

// A virsh that is not killed sleeps 30 s, past the test's timeout.
test('a hung virsh is killed at the timeout; a flood of output is capped', { timeout: 20_000 }, async () => {
  const slow = fakeVirsh('slow-virsh', 'exec sleep 30');
  const e = await rejection(readVirsh({ uri: 'test:///default', binary: slow, timeoutMs: 300 }));
  assert.equal(e.code, 'E_IO');
  assert.match(e.message, /timed out or killed after 300 ms/);
  const loud = fakeVirsh('loud-virsh', "head -c 2000000 /dev/zero | tr '\\0' 'a'");
  const big = await rejection(readVirsh({ uri: 'test:///default', binary: loud, maxOutputBytes: 65536 }));
  assert.equal(big.code, 'E_LIMIT');
});

test('objects that fail or carry hostile XML become unreadable entries; the others are kept', async () => {
  const good = fixtureText('domains/graphics-vnc.xml');
  const goodPath = join(tmp.dir, 'good.xml');
  writeFileSync(goodPath, good);
  const bomb = join(tmp.dir, 'bomb.xml');
  writeFileSync(
    bomb,
    '<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><domain><name>&b;</name></domain>',
  );
  const script = fakeVirsh(
    'odd-virsh',
    [
      'case "$5" in',
      '  list) echo 11111111-1111-4111-8111-111111111111; echo 22222222-2222-4222-8222-222222222222; echo 33333333-3333-4333-8333-333333333333; echo not-a-uuid ;;',
      '  dumpxml) case "$7" in',
      `    11111111-*) cat '${goodPath}' ;;`,
      `    22222222-*) cat '${bomb}' ;;`,
      '    *) echo "error: failed to get domain \'$7\'" >&2; exit 1 ;;',
      '  esac ;;',
      "  net-list) echo 'error: this function is not supported by the connection driver: virConnectNumOfNetworks' >&2; exit 1 ;;",
      "  nwfilter-list) echo ' UUID                                   Name'; echo '------------------------------------------------'; echo ' 44444444-4444-4444-8444-444444444444   clean-traffic' ;;",
      "  nwfilter-dumpxml) cat '" + fixturePath('nwfilters/clean-traffic.xml') + "' ;;",
      'esac',
    ].join('\n'),
  );
  const inv = await readVirsh({ uri: 'qemu:///system', binary: script, concurrency: 2 });
  assert.deepEqual(
    inv.domains.map((d) => d.name),
    [/<name>([^<]+)/.exec(good)![1]],
  );
  assert.deepEqual(
    inv.unreadable.map((u) => [u.file, u.code]),
    [
      ['virsh -c qemu:///system dumpxml 22222222-2222-4222-8222-222222222222', 'E_UNSUPPORTED_FORMAT'],
      ['virsh -c qemu:///system dumpxml 33333333-3333-4333-8333-333333333333', 'E_IO'],
    ],
  );
  assert.match(inv.unreadable[0]!.message, /DOCTYPE/);
  assert.match(inv.unreadable[1]!.message, /failed to get domain/);
  assert.deepEqual(inv.networks, []);
  assert.deepEqual(
    inv.nwfilters?.map((f) => [f.name, f.file]),
    [['clean-traffic', 'virsh -c qemu:///system nwfilter-dumpxml 44444444-4444-4444-8444-444444444444']],
  );
  // Caps on the number of objects read.
  const capped = await readVirsh({ uri: 'qemu:///system', binary: script, maxObjects: 1 });
  assert.equal(capped.domains.length, 1);
  assert.ok(capped.unreadable.some((u) => u.code === 'E_LIMIT' && /3 objects listed/.test(u.message)));
});

test('nwfilter-list table: UUIDs from the first column only', () => {
  const table = [
    ' UUID                                   Name',
    '-----------------------------------------------------------------',
    ' 6ef53069-ba34-94a0-d33d-17751b9b8cb1   clean-traffic',
    ' 9d1d5aa8-EEEE-4e0b-9cd3-a7b2a1c2fa4c   no-arp-spoofing',
    ' not-a-uuid   6ef53069-ba34-94a0-d33d-17751b9b8cb2',
    '',
  ].join('\n');
  assert.deepEqual(nwfilterListUuids(table), [
    '6ef53069-ba34-94a0-d33d-17751b9b8cb1',
    '9d1d5aa8-eeee-4e0b-9cd3-a7b2a1c2fa4c',
  ]);
});
