import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import type { RootReader } from '../../inspect/system.js';
import { parseCorosyncClusterName, parsePveversion, readProxmoxHost } from './host.js';
import { fixtureText, inventoryFromTree } from '../../../test/helpers/proxmox-tree.js';

// A real Debian dpkg database (fixtures/sample) with a pve-manager entry added, as on a Proxmox VE host.
const DPKG = readFileSync(
  new URL('../../../fixtures/sample/root/var/lib/dpkg/status', import.meta.url),
  'utf8',
);
const PVE_MANAGER =
  'Package: pve-manager\nStatus: install ok installed\nArchitecture: amd64\nVersion: 8.2.4\n';

function fullTree(): Record<string, string | Buffer> {
  return {
    '/etc/pve/corosync.conf': fixtureText('cluster/pve-firewall-test_corosync.conf'),
    '/etc/pve/datacenter.cfg': fixtureText('datacenter/brucewinter_datacenter.cfg'),
    '/etc/pve/storage.cfg': fixtureText('storage/pvesm-default_storage.cfg'),
    '/etc/pve/firewall/cluster.fw': fixtureText('firewall/test-group1_cluster.fw'),
    '/etc/pve/firewall/100.fw': fixtureText('firewall/test-group1_100.fw'),
    '/etc/pve/nodes/prox1/host.fw': fixtureText('firewall/test-basic1_host.fw'),
    '/etc/pve/nodes/prox1/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf'),
    '/etc/pve/nodes/prox1/qemu-server/notes.txt': 'not a VM\n',
    '/etc/pve/nodes/prox2/qemu-server/200.conf': fixtureText('qemu-server/HomeLab_200.conf'),
    '/etc/pve/qemu-server/111.conf': fixtureText('qemu-server/parse-config-input_snapshots.conf'),
    '/var/lib/dpkg/status': `${DPKG}\n${PVE_MANAGER}`,
  };
}

test('a Proxmox VE tree: cluster, datacenter, storage, firewalls, VMs per node, version', () => {
  const { inv, read } = inventoryFromTree(fullTree());
  assert.ok(read);
  assert.deepEqual(read.unreadable, []);
  const host = inv.proxmox!;
  assert.equal(
    host.clusterName,
    parseCorosyncClusterName(fixtureText('cluster/pve-firewall-test_corosync.conf')),
  );
  assert.equal(host.clusterName, 'cloud');
  assert.deepEqual(host.nodes, ['prox1', 'prox2']);
  assert.equal(host.datacenter!.settings.keyboard!.value, 'en-us');
  assert.equal(host.datacenter!.file, '/etc/pve/datacenter.cfg');
  assert.deepEqual(
    host.storage!.map((s) => s.id),
    ['local', 'local-lvm', 'local-zfs'],
  );
  assert.equal(host.clusterFirewall!.options.enable!.value, '1');
  assert.equal(host.clusterFirewall!.file, '/etc/pve/firewall/cluster.fw');
  assert.equal(host.hostFirewalls.prox1!.options.enable!.value, '1');
  assert.equal(host.hostFirewalls.prox2, undefined);
  assert.equal(host.firewallDirRead, true);
  assert.deepEqual(host.version, { version: '8.2.4', source: '/var/lib/dpkg/status' });

  assert.deepEqual(
    inv.proxmoxVms.map((v) => [v.vmid, v.node, v.file]),
    [
      ['100', 'prox1', '/etc/pve/nodes/prox1/qemu-server/100.conf'],
      ['111', undefined, '/etc/pve/qemu-server/111.conf'],
      ['200', 'prox2', '/etc/pve/nodes/prox2/qemu-server/200.conf'],
    ],
  );
  const vm100 = inv.proxmoxVms[0]!;
  assert.equal(vm100.firewall!.file, '/etc/pve/firewall/100.fw');
  assert.equal(vm100.firewall!.rules.length, 5);
  assert.equal(inv.proxmoxVms[1]!.firewall, undefined);
  assert.equal(inv.proxmoxVms[1]!.snapshots.length, 7);
});

test('the same VM under /etc/pve/qemu-server and its node directory is read once, with its node', () => {
  const conf = fixtureText('qemu-server/HomeLab_100.conf');
  const { inv } = inventoryFromTree({
    '/etc/pve/nodes/pve/qemu-server/100.conf': conf,
    '/etc/pve/qemu-server/100.conf': conf,
  });
  assert.deepEqual(
    inv.proxmoxVms.map((v) => [v.vmid, v.node]),
    [['100', 'pve']],
  );
  assert.equal(inv.proxmox!.clusterName, 'pve', 'a single node names the cluster');
});

test('no /etc/pve: not a Proxmox VE host; an empty /etc/pve with the pmxcfs database: unreadable, not empty', () => {
  assert.equal(inventoryFromTree({ '/etc/hostname': 'debian\n' }).read, undefined);
  assert.equal(inventoryFromTree({ '/etc/pve/': '' }).read, undefined);
  const { read } = inventoryFromTree({
    '/etc/pve/': '',
    '/var/lib/pve-cluster/config.db': 'SQLite format 3\0',
  });
  assert.ok(read);
  assert.deepEqual(
    read.unreadable.map((u) => [u.file, u.code]),
    [['/var/lib/pve-cluster/config.db', 'E_UNSUPPORTED_FORMAT']],
  );
  assert.ok(read.proxmox.unreadableFiles.includes('/etc/pve/firewall'));
  assert.equal(read.proxmox.firewallDirRead, false);
});

test('files that cannot be read or parsed are unreadable entries; the rest is read on', () => {
  const tree = fullTree();
  tree['/etc/pve/nodes/prox1/qemu-server/101.conf'] =
    `${fixtureText('qemu-server/netdev.conf')}garbage line\n`;
  tree['/etc/pve/nodes/prox1/qemu-server/102.conf'] = Buffer.from([
    0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a,
  ]);
  tree['/etc/pve/firewall/cluster.fw'] = `[OPTIONS]\nenable: 1\n${'#'.repeat(5 * 1024 * 1024)}\n`;
  const { inv, read } = inventoryFromTree(tree);
  assert.ok(read);
  assert.deepEqual(read.unreadable.map((u) => [u.file, u.code]).sort(), [
    ['/etc/pve/firewall/cluster.fw', 'E_LIMIT'],
    ['/etc/pve/nodes/prox1/qemu-server/101.conf', 'E_UNSUPPORTED_FORMAT'],
    ['/etc/pve/nodes/prox1/qemu-server/102.conf', 'E_UNSUPPORTED_FORMAT'],
  ]);
  assert.match(read.unreadable.find((u) => u.file.endsWith('101.conf'))!.message, /line 9/);
  assert.equal(inv.proxmox!.clusterFirewall, undefined);
  assert.ok(inv.proxmox!.unreadableFiles.includes('/etc/pve/firewall/cluster.fw'));
  assert.deepEqual(
    inv.proxmoxVms.map((v) => v.vmid),
    ['100', '111', '200'],
  );
  assert.deepEqual(inv.unreadable, read.unreadable);
});

test('the version from pveversion output: passed in, or saved beside the tree', () => {
  const lines = [
    'pve-manager/8.2.4/faa83925c9641325 (running kernel: 6.8.8-2-pve)',
    'proxmox-ve: 8.2.0 (running kernel: 6.8.12-2-pve)\npve-manager: 8.2.7 (running version: 8.2.7/3e0176e6bb2ade3b)\n',
  ];
  const conf = { '/etc/pve/qemu-server/100.conf': fixtureText('qemu-server/HomeLab_100.conf') };
  const a = inventoryFromTree(conf, { pveversion: lines[0]! }).inv.proxmox!.version;
  assert.deepEqual(a, { version: '8.2.4', source: 'pveversion' });
  const b = inventoryFromTree({ ...conf, '/pveversion.txt': lines[1]! }).inv.proxmox!.version;
  assert.deepEqual(b, { version: '8.2.7', source: '/pveversion.txt' });
  assert.equal(inventoryFromTree(conf).inv.proxmox!.version, undefined);
  fc.assert(
    fc.property(
      fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2}|-[0-9]{1,2})$/),
      fc.boolean(),
      (v, verbose) => {
        const out = verbose
          ? `proxmox-ve: x\npve-manager: ${v} (running version: ${v}/abc)`
          : `pve-manager/${v}/abc (x)`;
        assert.equal(parsePveversion(out), v);
      },
    ),
    { numRuns: 100 },
  );
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void parsePveversion(s)));
});

test('the cluster name falls back to the host name when nodes are many and corosync.conf is absent', () => {
  const conf = fixtureText('qemu-server/HomeLab_100.conf');
  const { inv } = inventoryFromTree({
    '/etc/hostname': 'pve-a\n',
    '/etc/pve/nodes/pve-a/qemu-server/100.conf': conf,
    '/etc/pve/nodes/pve-b/': '',
  });
  assert.equal(inv.proxmox!.clusterName, 'pve-a');
});

/** An in-memory root filesystem: the tree's paths and their contents. */
class MemRoot implements RootReader {
  constructor(private readonly files: Map<string, Buffer>) {}
  tryReadFile(path: string, maxBytes = Infinity): Buffer | undefined {
    const b = this.files.get(path);
    return b !== undefined && b.length <= maxBytes ? b : undefined;
  }
  list(path: string): string[] | undefined {
    const prefix = `${path}/`;
    const names = new Set<string>();
    for (const p of this.files.keys())
      if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
    return names.size > 0 ? [...names] : undefined;
  }
}

test('property: hostile content in any file of the tree never throws; every file is read or reported', () => {
  const paths = [
    '/etc/pve/datacenter.cfg',
    '/etc/pve/storage.cfg',
    '/etc/pve/corosync.conf',
    '/etc/pve/firewall/cluster.fw',
    '/etc/pve/firewall/100.fw',
    '/etc/pve/nodes/pve/host.fw',
    '/etc/pve/nodes/pve/qemu-server/100.conf',
    '/etc/pve/qemu-server/101.conf',
    '/var/lib/dpkg/status',
  ];
  const content = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
    fc.constantFrom(
      fixtureText('qemu-server/HomeLab_200.conf'),
      fixtureText('firewall/test-ipset1_cluster.fw'),
    ),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...paths), content), { minLength: 1, maxLength: 9 }),
      (files) => {
        const tree = new Map(files.map(([p, c]) => [p, Buffer.from(c, 'latin1')]));
        let read: ReturnType<typeof readProxmoxHost>;
        onlyHyperwardErrors(() => {
          read = readProxmoxHost(new MemRoot(tree));
        });
        const hasPve = [...tree.keys()].some((p) => p.startsWith('/etc/pve/'));
        assert.equal(read! !== undefined, hasPve);
        if (!read) return;
        const vmConfs = [...tree.keys()].filter((p) => p.endsWith('.conf') && p.includes('qemu-server'));
        const reported = new Set(read.unreadable.map((u) => u.file));
        for (const p of vmConfs) assert.ok(read.vms.some((v) => v.file === p) || reported.has(p), p);
      },
    ),
    { numRuns: 200 },
  );
});
