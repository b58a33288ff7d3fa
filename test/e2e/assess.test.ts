/**
 * The assessment commands end to end, on real configuration files and real transports: a Debian 12 libvirt host
 * tree read from a directory, over a real sshd, and through virsh's test driver; real libvirt, Proxmox and
 * VMware files; waivers, profiles, diff and exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Finding } from '../../src/model/finding.js';
import type { ScanReport } from '../../src/model/report.js';
import { FORMATS } from '../../src/report/types.js';
import { BIN, hyperward, LAUNCHER } from '../helpers/cli.js';
import { debianHostTree, type HostTree } from '../helpers/kvm-host.js';
import { fixturePath } from '../helpers/libvirt-fixtures.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('hyperward-assess-');
let tree: HostTree;
let sshd: TestSshd;

before(async () => {
  tree = debianHostTree({ packages: true });
  tree.replace('/etc/libvirt/qemu.conf', '\n#seccomp_sandbox = 1\n', '\nseccomp_sandbox = 0\n');
  tree.write('/etc/hostname', 'kvm-e2e\n');
  sshd = await startSshd();
});
after(async () => {
  await sshd.stop();
  tree.cleanup();
  tmp.cleanup();
});

function report(args: string[]): { code: number; rep: ScanReport; stderr: string } {
  const r = hyperward([...args, '--format', 'json']);
  return { code: r.code, rep: JSON.parse(r.stdout.toString()) as ScanReport, stderr: r.stderr };
}

function statusOf(findings: Finding[], checkId: string): string[] {
  return findings.filter((f) => f.checkId === checkId).map((f) => f.status);
}

test('scan config: each kind told by content, judged, with evidence', () => {
  const files = [
    fixturePath('domains/disk-shared.xml'),
    'fixtures/proxmox/qemu-server/q35-linux-hostpci.conf',
    'fixtures/vmware/vmx/esx-in-the-wild-12.vmx',
    'fixtures/vmware/esxi/esxcli-advanced-list.txt',
  ];
  const { code, rep } = report(['scan', 'config', ...files]);
  assert.equal(code, 0);
  const [dom, pve, vmx, esx] = rep.results;
  assert.deepEqual(statusOf(dom!.findings, 'kvm.vm.shared-disk'), ['fail']);
  assert.deepEqual(statusOf(pve!.findings, 'proxmox.vm.host-device-passthrough'), ['fail']);
  assert.ok(vmx!.findings.some((f) => f.checkId.startsWith('vm-8.')));
  assert.ok(esx!.findings.some((f) => f.checkId === 'esxi-8.account-lockout'));
  const shared = dom!.findings.find((f) => f.checkId === 'kvm.vm.shared-disk')!;
  assert.equal(shared.evidence?.file, files[0]);
  assert.ok(shared.references?.length, 'references carried to the report');
});

test('scan config: --output writes the same report as stdout, in every format', () => {
  const { dir, cleanup } = tempDir('hyperward-output-');
  try {
    const files = [fixturePath('domains/disk-shared.xml'), 'fixtures/vmware/vmx/esx-in-the-wild-12.vmx'];
    const older = 'an older report, longer than the new one will be\n'.repeat(100_000);
    let written = 0;
    for (const format of FORMATS) {
      const out = join(dir, `report.${format}`);
      writeFileSync(out, older);
      const toStdout = hyperward(['scan', 'config', '--format', format, ...files]);
      const toFile = hyperward(['scan', 'config', '--format', format, '--output', out, ...files]);
      assert.equal(toStdout.code, toFile.code, format);
      assert.equal(toFile.stdout.length, 0, `${format}: nothing on stdout with --output`);
      if (toFile.code === 2) {
        // A format refused for this kind of scan: the file is left as it was.
        assert.ok(readFileSync(out, 'utf8') === older, `${format}: refused, the older file untouched`);
        continue;
      }
      // The time of the scan and what is derived from it differ between the two runs.
      const strip = (b: Buffer): string =>
        b
          .toString('utf8')
          .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?/g, 'T')
          .replace(/(urn:uuid:|spdx\/)[0-9a-f-]+/g, '$1U')
          .replace(/("(?:time|created_time|modified_time|first_seen_time|last_seen_time)": )\d+/g, '$1N');
      const a = strip(readFileSync(out));
      const b = strip(toStdout.stdout);
      assert.ok(
        a.length > 0 && a === b,
        `${format}: ${a.length} characters in the file, ${b.length} on stdout`,
      );
      written++;
    }
    assert.ok(written >= 6, `${written} formats written`);
  } finally {
    cleanup();
  }
});

test('scan config: junk and missing files are errors of their own; exit 2', () => {
  const junk = join(tmp.dir, 'junk.bin');
  writeFileSync(junk, Buffer.from([0, 1, 2, 0xff, 0xfe]));
  const bomb = join(tmp.dir, 'bomb.xml');
  writeFileSync(
    bomb,
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><domain>&b;</domain>',
  );
  const { code, rep } = report([
    'scan',
    'config',
    junk,
    bomb,
    join(tmp.dir, 'nope.vmx'),
    fixturePath('domains/disk-shared.xml'),
  ]);
  assert.equal(code, 2);
  assert.equal(rep.results[0]!.error?.code, 'E_UNSUPPORTED_FORMAT');
  assert.match(rep.results[1]!.error?.message ?? '', /bomb\.xml.*(DOCTYPE|DTD|entit)/i);
  assert.equal(rep.results[2]!.error?.code, 'E_NOT_FOUND');
  assert.equal(rep.results[3]!.error, undefined);
});

test('scan host --root: a Debian 12 libvirt host tree, with a planted seccomp_sandbox = 0', () => {
  const { code, rep } = report(['scan', 'host', '--root', tree.dir]);
  assert.equal(code, 0);
  const r = rep.results[0]!;
  assert.equal(r.kind, 'host');
  assert.deepEqual(statusOf(r.findings, 'kvm.host.seccomp-disabled'), ['fail']);
  assert.deepEqual(statusOf(r.findings, 'kvm.host.namespaces-disabled'), ['pass']);
  const f = r.findings.find((x) => x.checkId === 'kvm.host.seccomp-disabled')!;
  assert.equal(f.evidence?.file, '/etc/libvirt/qemu.conf');
  assert.equal(f.resource.id, 'host/kvm-e2e');
  assert.equal(hyperward(['scan', 'host', '--root', tree.dir, '--fail-on', 'medium', '-q']).code, 1);
});

test('scan host over SSH gives the same findings and packages as the local scan of the same machine', () => {
  // sshd serves this machine's own files, so the SSH scan of this machine is compared with the local scan of
  // it: the same readers, two transports.
  const known = join(tmp.dir, 'known_hosts');
  writeFileSync(
    known,
    sshd.hostKeys.map((k) => `[127.0.0.1]:${sshd.port} ${k.type} ${k.base64}`).join('\n') + '\n',
  );
  const overSsh = report(['scan', 'host', sshd.url, '--identity', sshd.clientKey, '--known-hosts', known]);
  assert.equal(overSsh.code, 0, overSsh.stderr);
  const local = report(['scan', 'host']);
  assert.equal(local.code, 0, local.stderr);
  const view = (rep: ScanReport): string[] =>
    rep.results[0]!.findings.map((f) => `${f.id} ${f.checkId} ${f.status} ${f.resource.id}`).sort();
  assert.deepEqual(view(overSsh.rep), view(local.rep));
  assert.equal(overSsh.rep.results[0]!.packages.length, local.rep.results[0]!.packages.length);
  assert.ok(local.rep.results[0]!.packages.length > 50, 'this machine has a dpkg database');
});

test('scan host over SSH refuses an unknown host key', () => {
  const empty = join(tmp.dir, 'empty_known_hosts');
  writeFileSync(empty, '');
  const r = report(['scan', 'host', sshd.url, '--identity', sshd.clientKey, '--known-hosts', empty]);
  assert.equal(r.code, 2);
  assert.equal(r.rep.results[0]!.error?.code, 'E_AUTH');
  assert.match(r.rep.results[0]!.error?.message ?? '', /SHA256:/);
});

test('scan host virsh:test:///… reads domains through a real libvirt connection', () => {
  const node = join(tmp.dir, 'node.xml');
  // The test driver re-reads the node file on every virsh call: fixed UUIDs keep the domains addressable.
  const domain = (name: string, uuid: string, extra: string) =>
    `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory>1024</memory><os><type>hvm</type></os><devices>${extra}</devices></domain>`;
  const disk =
    "<disk type='file' device='disk'><source file='/var/lib/x.img'/><target dev='vda' bus='virtio'/><shareable/></disk>";
  writeFileSync(
    node,
    `<node>${domain('plain', '11111111-2222-3333-4444-555555555555', '')}${domain('shared', '11111111-2222-3333-4444-666666666666', disk)}</node>`,
  );
  const { code, rep } = report(['scan', 'host', `virsh:test://${node}`]);
  assert.equal(code, 0);
  const shared = rep.results[0]!.findings.filter((f) => f.checkId === 'kvm.vm.shared-disk');
  assert.deepEqual(shared.map((f) => `${f.resource.id} ${f.status}`).sort(), [
    'vm/plain pass',
    'vm/shared fail',
  ]);
});

test('waivers, profiles and diff through the CLI', () => {
  const base = report(['scan', 'host', '--root', tree.dir]);
  const oldPath = join(tmp.dir, 'old.json');
  writeFileSync(oldPath, JSON.stringify(base.rep));
  const waivers = join(tmp.dir, 'waivers.yaml');
  writeFileSync(
    waivers,
    'waivers:\n  - check: kvm.host.seccomp-disabled\n    resource: host/*\n    justification: legacy guest needs it\n    owner: platform-team\n    expires: 2999-01-01\n',
  );
  const waived = report(['scan', 'host', '--root', tree.dir, '--waivers', waivers, '--fail-on', 'medium']);
  assert.deepEqual(statusOf(waived.rep.results[0]!.findings, 'kvm.host.seccomp-disabled'), ['waived']);
  const failing = waived.rep.results[0]!.findings.filter(
    (f) =>
      (f.status === 'fail' || f.status === 'unknown') && ['critical', 'high', 'medium'].includes(f.severity),
  );
  assert.equal(waived.code, failing.length > 0 ? 1 : 0);

  tree.replace('/etc/libvirt/qemu.conf', '\n#namespaces = [ "mount" ]\n', '\nnamespaces = [ ]\n');
  const after = report(['scan', 'host', '--root', tree.dir]);
  const newPath = join(tmp.dir, 'new.json');
  writeFileSync(newPath, JSON.stringify(after.rep));
  const diff = hyperward(['diff', oldPath, newPath, '--format', 'json']);
  assert.equal(diff.code, 1, diff.stderr);
  const d = JSON.parse(diff.stdout.toString()) as { new: Finding[]; fixed: Finding[] };
  assert.deepEqual(
    d.new.map((f) => f.checkId),
    ['kvm.host.namespaces-disabled'],
  );
  assert.deepEqual(d.fixed, []);
  assert.equal(hyperward(['diff', newPath, newPath]).code, 0);

  const list = hyperward(['checks', 'list', '--profile', 'stig', '--format', 'json']);
  const metas = JSON.parse(list.stdout.toString()) as Array<{
    id: string;
    effectiveParameters: Record<string, unknown>;
  }>;
  assert.equal(metas.find((m) => m.id === 'esxi-8.account-lockout')?.effectiveParameters.maxFailures, 3);
});

test('scan host vsphere://… reads ESXi hosts from a real vSphere API (govmomi vcsim)', async () => {
  const { findSimulator, startVcsim, stop, USER, PASS } = await import('../helpers/vcsim.js');
  const { run } = await import('../helpers/tmp.js');
  const bins = findSimulator();
  const key = join(tmp.dir, 'vc-key.pem');
  const cert = join(tmp.dir, 'vc-cert.pem');
  run('openssl', [
    ...'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1'.split(' '),
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const sim = await startVcsim(bins.vcsim, ['-tlscert', cert, '-tlskey', key], tmp.dir, cert);
  try {
    const args = ['scan', 'host', sim.endpoint, '--user', USER, '--ca-file', cert, '--format', 'json'];
    const withPassword = spawnSync(process.execPath, [BIN, ...args], {
      env: { ...process.env, HYPERWARD_VSPHERE_PASSWORD: PASS },
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(withPassword.status, 0, withPassword.stderr.toString());
    const rep = JSON.parse(withPassword.stdout.toString()) as ScanReport;
    const lockdown = rep.results[0]!.findings.filter((f) => f.checkId === 'esxi-8.lockdown-mode');
    assert.ok(lockdown.length >= 2, 'one finding per simulated host');
    // vcsim's hosts run with lockdown disabled: the check must fail them.
    assert.ok(
      lockdown.every((f) => f.status === 'fail'),
      JSON.stringify(lockdown.map((f) => f.status)),
    );
    assert.ok(!withPassword.stdout.toString().includes(PASS), 'the password never reaches the report');
    const noPassword = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env } });
    assert.equal(noPassword.status, 2);
    assert.match(noPassword.stderr.toString(), /HYPERWARD_VSPHERE_PASSWORD/);

    // The launcher a user runs (`npx hyperward`, or `hyperward` on PATH) keeps NODE_EXTRA_CA_CERTS from Node's
    // start-up and the vSphere client trusts its certificates: no --ca-file needed where the variable names the CA.
    const noCa = args.filter((a, i) => a !== '--ca-file' && args[i - 1] !== '--ca-file');
    const env: NodeJS.ProcessEnv = { ...process.env, HYPERWARD_VSPHERE_PASSWORD: PASS };
    delete env.NODE_EXTRA_CA_CERTS;
    const viaExtra = spawnSync(LAUNCHER, noCa, {
      env: { ...env, NODE_EXTRA_CA_CERTS: cert },
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(viaExtra.status, 0, viaExtra.stderr.toString());
    const extraRep = JSON.parse(viaExtra.stdout.toString()) as ScanReport;
    assert.deepEqual(
      extraRep.results[0]!.findings.filter((f) => f.checkId === 'esxi-8.lockdown-mode').map((f) => f.status),
      lockdown.map((f) => f.status),
    );
    const untrusted = spawnSync(LAUNCHER, noCa, { env });
    assert.equal(untrusted.status, 2);
    assert.match(untrusted.stderr.toString(), /not trusted/);
    // Node never saw the variable: it would have warned about a file it could not load.
    const unreadable = spawnSync(LAUNCHER, noCa, {
      env: { ...env, NODE_EXTRA_CA_CERTS: join(tmp.dir, 'no-such-ca.pem') },
    });
    assert.equal(unreadable.status, 2);
    assert.match(unreadable.stderr.toString(), /could not be read: \S*no-such-ca\.pem: no such file/);
    assert.doesNotMatch(unreadable.stderr.toString(), /Ignoring extra certs/);
  } finally {
    await stop(sim);
  }
});

test('scan host image:… assesses a host from its own disk image, read like any other root', async () => {
  const { loadFixtureManifest, fixtureImage } = await import('../fixtures/build.js');
  const manifest = loadFixtureManifest();
  const img = fixtureImage(manifest, 'gpt-v3.qcow2');
  const { code, rep } = report(['scan', 'host', `image:${img.path}`]);
  assert.equal(code, 0);
  const r = rep.results[0]!;
  assert.equal(r.error, undefined);
  assert.equal(r.packages.length, manifest.trees[img.tree]!.packageCount);
  // A minbase Debian has no libvirt: no KVM host findings, and nothing unreadable.
  assert.deepEqual(
    r.findings.filter((f) => f.checkId.startsWith('kvm.host.') || f.checkId === 'hyperward.unreadable'),
    [],
  );
});

test('hostile targets and options are refused before anything runs', () => {
  for (const uri of [
    'virsh:qemu+ext:///system?command=/bin/touch',
    'virsh:qemu+ssh://h/system?netcat=/tmp/x',
  ]) {
    const r = report(['scan', 'host', uri]);
    assert.equal(r.code, 2);
    assert.match(r.rep.results[0]!.error?.message ?? '', /refusing libvirt URI/);
  }
  assert.equal(
    hyperward(['scan', 'config', '--format', 'cyclonedx', fixturePath('domains/disk-shared.xml')]).code,
    2,
  );
  const both = report(['scan', 'host', 'image:/nonexistent', '--root', tree.dir]);
  assert.equal(both.code, 2);
  assert.match(both.rep.results[0]!.error?.message ?? '', /cannot be combined/);
});

test('a FIFO named as a configuration file is refused without blocking', () => {
  const fifo = join(tmp.dir, 'pipe.vmx');
  spawnSync('mkfifo', [fifo]);
  const started = Date.now();
  const r = report(['scan', 'config', fifo]);
  assert.equal(r.code, 2);
  assert.match(r.rep.results[0]!.error?.message ?? '', /not a regular file/);
  assert.ok(Date.now() - started < 20_000);
});

test('secrets in raw QEMU arguments never reach a report', () => {
  const conf = join(tmp.dir, '101.conf');
  writeFileSync(
    conf,
    'boot: order=scsi0\ncores: 2\nmemory: 2048\nargs: -object secret,id=s0,data=Hunter2Passw0rd -vnc 0.0.0.0:1,password=on\n',
  );
  for (const format of ['json', 'sarif', 'html', 'junit', 'ocsf', 'table']) {
    const r = hyperward(['scan', 'config', '--format', format, conf]);
    assert.ok(!r.stdout.toString().includes('Hunter2Passw0rd'), format);
    assert.match(r.stdout.toString(), /raw-qemu-args/, format);
  }
});

test('a live waiver wins over an expired one listed first', () => {
  const waivers = join(tmp.dir, 'overlap.yaml');
  writeFileSync(
    waivers,
    [
      'waivers:',
      '  - {check: kvm.host.seccomp-disabled, resource: "*", justification: old, owner: a, expires: 2000-01-01}',
      '  - {check: kvm.host.seccomp-disabled, resource: "host/*", justification: current, owner: b, expires: 2999-01-01}',
      '',
    ].join('\n'),
  );
  const r = report(['scan', 'host', '--root', tree.dir, '--waivers', waivers]);
  const f = r.rep.results[0]!.findings.find((x) => x.checkId === 'kvm.host.seccomp-disabled')!;
  assert.equal(f.status, 'waived');
  assert.equal(f.waiver?.justification, 'current');
});

test('finding ids do not depend on how a file path is spelled or where the command runs', () => {
  const rel = 'fixtures/vmware/vmx/esx-in-the-wild-12.vmx';
  const ids = (r: ReturnType<typeof hyperward>): string[] =>
    (JSON.parse(r.stdout.toString()) as ScanReport).results[0]!.findings.map((f) => f.id).sort();
  const fromRepo = hyperward(['scan', 'config', '--format', 'json', rel]);
  const absolute = hyperward(['scan', 'config', '--format', 'json', join(process.cwd(), rel)]);
  const elsewhere = hyperward(['scan', 'config', '--format', 'json', join(process.cwd(), rel)], {
    cwd: tmp.dir,
  });
  assert.ok(ids(fromRepo).length > 5);
  assert.deepEqual(ids(absolute), ids(fromRepo));
  assert.deepEqual(ids(elsewhere), ids(fromRepo));
  const a = join(tmp.dir, 'a.json');
  const b = join(tmp.dir, 'b.json');
  writeFileSync(a, fromRepo.stdout);
  writeFileSync(b, elsewhere.stdout);
  assert.equal(hyperward(['diff', a, b]).code, 0, 'the same input twice is no change');
});
