import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { emptyInventory } from '../../model/host.js';
import { CheckMetaSchema } from '../types.js';
import {
  fixtureDomain,
  hostWithQemuConf,
  inventoryOf,
  LIBVIRT_FIXTURES,
} from '../../../test/helpers/libvirt-fixtures.js';
import { kvmVmChecks } from './vm-index.js';

const REQUIRED = [
  'kvm.vm.console-unauthenticated',
  'kvm.vm.confinement-disabled',
  'kvm.vm.qemu-passthrough-args',
  'kvm.vm.host-device-passthrough',
  'kvm.vm.network-console',
  'kvm.vm.shared-disk',
  'kvm.vm.usb-redirection',
  'kvm.vm.no-traffic-filter',
];

const names = readdirSync(join(LIBVIRT_FIXTURES, 'domains'))
  .filter((f) => f.endsWith('.xml'))
  .map((f) => f.slice(0, -4))
  .sort();

test('the kvm.vm checks: the required ids, valid metadata, one file and one test per check', () => {
  assert.deepEqual(
    kvmVmChecks.map((c) => c.meta.id),
    REQUIRED,
  );
  const files = new Set(readdirSync(fileURLToPath(new URL('.', import.meta.url))));
  for (const c of kvmVmChecks) {
    const parsed = CheckMetaSchema.safeParse(c.meta);
    assert.ok(parsed.success, `${c.meta.id}: ${parsed.success ? '' : parsed.error.message}`);
    assert.equal(c.meta.platform, 'kvm');
    assert.equal(c.meta.resourceType, 'vm');
    const base = `vm-${c.meta.id.slice('kvm.vm.'.length)}`;
    assert.ok(files.has(`${base}.ts`) && files.has(`${base}.test.ts`), base);
  }
});

test('over every real domain fixture: one outcome per check and domain, each check both passes and fails somewhere', () => {
  const domains = names.map((n) => {
    const d = fixtureDomain(n);
    d.name = n; // the fixtures all call themselves QEMUGuest1
    return d;
  });
  const inv = inventoryOf(...domains);
  for (const c of kvmVmChecks) {
    const out = c.run(inv, { params: {} });
    assert.deepEqual(
      out.map((o) => o.resource),
      domains.map((d) => ({ type: 'vm', id: `vm/${d.name}` })),
      c.meta.id,
    );
    const statuses = new Set(out.map((o) => o.status));
    assert.ok(statuses.has('pass') && statuses.has('fail'), `${c.meta.id}: ${[...statuses].join(',')}`);
    if (c.meta.id === 'kvm.vm.console-unauthenticated') {
      // Loose domain files: a display without a listen address depends on the host's qemu.conf, not read here.
      for (const o of out.filter((x) => x.status === 'unknown'))
        assert.match(o.message, /comes from the host's qemu\.conf .*which was not read/, o.resource.id);
      // With the host's (Debian-shipped) qemu.conf, every display is decided.
      const onHost = { ...inv, kvm: hostWithQemuConf() };
      assert.ok(!c.run(onHost, { params: {} }).some((o) => o.status === 'unknown'), c.meta.id);
    } else {
      assert.ok(!statuses.has('unknown'), c.meta.id);
    }
    for (const o of out) {
      assert.ok(o.message.length > 0);
      if (o.status === 'fail')
        assert.equal(o.evidence?.file, domains.find((d) => `vm/${d.name}` === o.resource.id)?.file);
    }
    assert.deepEqual(c.run(emptyInventory('none', 'files'), { params: {} }), []);
  }
});
