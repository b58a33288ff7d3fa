import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { parseProxmoxDatacenter } from './datacenter.js';
import { fixtureText } from '../../../test/helpers/proxmox-tree.js';

const DC = '/etc/pve/datacenter.cfg';

test('real datacenter.cfg files: settings, lines and property strings', () => {
  const text = fixtureText('datacenter/brucewinter_datacenter.cfg');
  const dc = parseProxmoxDatacenter(text, DC);
  const lines = text.split('\n');
  assert.deepEqual(Object.keys(dc.settings), ['keyboard', 'webauthn']);
  assert.equal(dc.settings.keyboard!.value, 'en-us');
  assert.equal(dc.settings.keyboard!.line, lines.indexOf('keyboard: en-us') + 1);
  assert.deepEqual({ ...dc.settings.webauthn!.props }, { id: '192.168.86.57', rp: '192.168.86.57' });
  assert.equal(dc.description, undefined);

  const one = parseProxmoxDatacenter(fixtureText('datacenter/spongeyperson_datacenter.cfg'), DC);
  assert.deepEqual(Object.keys(one.settings), ['keyboard']);
});

test('migration settings and the description (minimal edits of a real file)', () => {
  const base = fixtureText('datacenter/brucewinter_datacenter.cfg');
  const dc = parseProxmoxDatacenter(
    `#Lab%20cluster\n${base}migration: type=insecure,network=10.10.10.0/24\nmigration_unsecure: 1\nnot a setting\n`,
    DC,
  );
  assert.deepEqual({ ...dc.settings.migration!.props }, { type: 'insecure', network: '10.10.10.0/24' });
  assert.equal(dc.settings.migration_unsecure!.value, '1');
  assert.equal(dc.description, 'Lab cluster');
  assert.equal(
    Object.keys(dc.settings).length,
    4,
    'a line that is not key: value is skipped, as Proxmox does',
  );
  const bare = parseProxmoxDatacenter('migration: secure\n', DC);
  assert.equal(bare.settings.migration!.props!.type, 'secure', 'type is the default key');
  const broken = parseProxmoxDatacenter('migration: type=secure,type=insecure\n', DC);
  assert.match(broken.settings.migration!.propsError!, /duplicate/);
});

test('binary junk is an error; hostile text never throws anything but HyperwardError', () => {
  expectError(() => parseProxmoxDatacenter('keyboard: de\n\0', DC), 'E_UNSUPPORTED_FORMAT', {
    layer: /line 2/,
  });
  const base = fixtureText('datacenter/brucewinter_datacenter.cfg');
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.nat(), (s, at) => {
      onlyHyperwardErrors(() => parseProxmoxDatacenter(s, DC));
      const p = at % (base.length + 1);
      onlyHyperwardErrors(() => parseProxmoxDatacenter(base.slice(0, p) + s + base.slice(p), DC));
    }),
    { numRuns: 300 },
  );
});

test('property: key: value lines read back the same', () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/).filter((k) => k !== 'description');
  const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
  fc.assert(
    fc.property(fc.dictionary(key, value, { maxKeys: 10 }), (settings) => {
      const text = Object.entries(settings)
        .map(([k, v]) => `${k}: ${v}\n`)
        .join('');
      const dc = parseProxmoxDatacenter(text, DC);
      assert.deepEqual(Object.fromEntries(Object.entries(dc.settings).map(([k, s]) => [k, s.value])), {
        ...settings,
      });
    }),
    { numRuns: 300 },
  );
});
