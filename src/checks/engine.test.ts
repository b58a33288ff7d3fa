import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isHyperwardError } from '../errors.js';
import { emptyInventory } from '../model/host.js';
import { assess } from './engine.js';
import { BUILTIN_PROFILES, globToRegExp, loadProfile, selectChecks } from './profile.js';
import { defineCheck, type Check } from './types.js';
import { applyWaivers, loadWaivers } from './waivers.js';

// A literal check over a literal inventory: the engine is tested on its own, the real checks beside their files.
const lockout: Check = defineCheck(
  {
    id: 'esxi-8.account-lockout',
    title: 'Lock accounts after failed logins',
    severity: 'medium',
    platform: 'vmware',
    resourceType: 'host',
    rationale: 'Repeated password guessing must lock the account.',
    remediation: 'Set Security.AccountLockFailures.',
    references: { stig: ['ESXI-80-000005'], vmwareScg: 'esxi-8.account-lockout', nist800125a: ['HY-SR-4'] },
    parameters: { maxFailures: { description: 'most failures allowed', default: 5 } },
  },
  (inv, ctx) =>
    inv.esxi.map((h) => {
      const v = Number(h.advanced['security.accountlockfailures']?.value ?? 'NaN');
      const max = Number(ctx.params.maxFailures);
      return {
        status: Number.isNaN(v) ? 'unknown' : v > 0 && v <= max ? 'pass' : 'fail',
        resource: { type: 'host', id: `host/${h.name}` },
        message: `lockout after ${v}, allowed ${max}`,
      };
    }),
);

function inventory(failures: string) {
  const inv = emptyInventory('vc1', 'files');
  inv.esxi.push({
    name: 'esx1',
    source: 'x',
    advanced: {
      'security.accountlockfailures': {
        key: 'Security.AccountLockFailures',
        value: failures,
        file: 'x',
        line: 1,
      },
    },
  });
  return inv;
}

test('parameters: the check default, overridden by a profile', () => {
  const inv = inventory('5');
  const strict = { name: 'strict', parameters: { 'esxi-8.account-lockout': { maxFailures: 3 } } };
  assert.equal(assess(inv, [lockout], BUILTIN_PROFILES.default!)[0]!.status, 'pass');
  assert.equal(assess(inv, [lockout], strict)[0]!.status, 'fail');
  assert.equal(assess(inventory('3'), [lockout], strict)[0]!.status, 'pass');
  assert.equal(assess(inventory('junk'), [lockout], strict)[0]!.status, 'unknown');
});

test('findings carry metadata, references and a fingerprint stable across runs', () => {
  const [a] = assess(inventory('9'), [lockout], BUILTIN_PROFILES.default!);
  const [b] = assess(inventory('2'), [lockout], BUILTIN_PROFILES.default!);
  assert.equal(a!.id, b!.id, 'same check + resource = same id whatever the value');
  assert.equal(a!.severity, 'medium');
  assert.deepEqual(
    a!.references!.map((r) => `${r.type}:${r.id}`),
    ['nist-800-125a:HY-SR-4', 'disa-stig:ESXI-80-000005', 'vmware-scg:esxi-8.account-lockout'],
  );
});

test('unreadable files are unknown findings of their own', () => {
  const inv = emptyInventory('h', 'files');
  inv.unreadable.push({ file: '/etc/libvirt/qemu.conf', code: 'E_CONFIG_SYNTAX', message: 'line 3: bad' });
  const [f] = assess(inv, [lockout], BUILTIN_PROFILES.default!);
  assert.equal(f!.status, 'unknown');
  assert.equal(f!.checkId, 'hyperward.unreadable');
});

test('profiles: globs, exclusions, unknown checks and parameters are errors', () => {
  assert.ok(globToRegExp('esxi-8.*').test('esxi-8.account-lockout'));
  assert.ok(!globToRegExp('esxi-8.*').test('vm-8.dvfilter'));
  assert.equal(selectChecks([lockout], { name: 'x', exclude: ['esxi-8.*'] }).length, 0);
  const bad = (p: Parameters<typeof selectChecks>[1]): string | undefined => {
    try {
      selectChecks([lockout], p);
      return undefined;
    } catch (e) {
      return isHyperwardError(e) ? e.code : 'other';
    }
  };
  assert.equal(bad({ name: 'x', parameters: { 'nope.check': { a: 1 } } }), 'E_USAGE');
  assert.equal(bad({ name: 'x', parameters: { 'esxi-8.account-lockout': { maxFailurez: 1 } } }), 'E_USAGE');
  assert.equal(
    bad({ name: 'x', parameters: { 'esxi-8.account-lockout': { maxFailures: 'three' } } }),
    'E_USAGE',
  );
  assert.equal(bad({ name: 'x', include: ['esxi8.*'] }), 'E_USAGE', 'a typo in a glob');
  const dir = mkdtempSync(join(tmpdir(), 'hw-profile-'));
  writeFileSync(
    join(dir, 'p.yaml'),
    'name: site\nextends: stig\nparameters:\n  esxi-8.account-lockout:\n    maxFailures: 4\n',
  );
  const p = loadProfile(join(dir, 'p.yaml'));
  assert.equal(p.parameters!['esxi-8.account-lockout']!.maxFailures, 4);
  assert.equal(p.parameters!['esxi-8.shell-timeout']!.maxSeconds, 600);
  writeFileSync(join(dir, 'bad.yaml'), 'name: site\nfrobnicate: true\n');
  assert.throws(() => loadProfile(join(dir, 'bad.yaml')), /invalid profile/);
});

test('waivers: applied until they expire; an expired waiver says so', () => {
  const findings = assess(inventory('9'), [lockout], BUILTIN_PROFILES.default!);
  const w = {
    check: 'esxi-8.account-lockout',
    resource: 'host/esx*',
    justification: 'vendor appliance',
    owner: 'ops',
    expires: '2026-12-31',
  };
  const live = applyWaivers(findings, [w], new Date('2026-12-31T23:00:00Z'));
  assert.equal(live[0]!.status, 'waived');
  assert.equal(live[0]!.waiver?.justification, 'vendor appliance');
  const late = applyWaivers(findings, [w], new Date('2027-01-01T00:00:01Z'));
  assert.equal(late[0]!.status, 'fail');
  assert.equal(late[0]!.waiver?.expired, true);
  assert.equal(late[1]!.checkId, 'hyperward.waiver-expired');
  assert.match(late[1]!.message, /expired on 2026-12-31/);
  const other = applyWaivers(findings, [{ ...w, resource: 'host/other' }], new Date('2026-01-01'));
  assert.equal(other[0]!.status, 'fail');
});

test('waiver files are validated', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hw-waiver-'));
  writeFileSync(
    join(dir, 'w.yaml'),
    'waivers:\n  - check: kvm.vm.*\n    resource: vm/lab-*\n    justification: lab\n    owner: me\n    expires: 2027-02-01\n',
  );
  assert.equal(loadWaivers(join(dir, 'w.yaml'))[0]!.resource, 'vm/lab-*');
  writeFileSync(
    join(dir, 'bad.yaml'),
    'waivers:\n  - check: x\n    justification: j\n    owner: o\n    expires: tomorrow\n',
  );
  assert.throws(() => loadWaivers(join(dir, 'bad.yaml')), /invalid waiver file/);
});
