import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import { parseProxmoxStorage } from './storage.js';
import { fixtureText } from '../../../test/helpers/proxmox-tree.js';

const FILE = '/etc/pve/storage.cfg';

test('the default storage.cfg of the Proxmox VE documentation (pvesm.adoc)', () => {
  const text = fixtureText('storage/pvesm-default_storage.cfg');
  const st = parseProxmoxStorage(text, FILE);
  const headers = [...text.matchAll(/^(\S+): (\S+)$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(
    st.map((s) => [s.type, s.id]),
    headers,
  );
  const zfs = st.find((s) => s.id === 'local-zfs')!;
  assert.equal(zfs.properties.pool!.value, 'rpool/data');
  assert.equal(zfs.properties.sparse!.value, '1', 'a flag without value');
  assert.equal(zfs.line, text.split('\n').indexOf('zfspool: local-zfs') + 1);
  assert.equal(st[0]!.properties.content!.value, 'iso,vztmpl,backup');
});

test('a real storage.cfg with network storages (spongeyperson/pveserver-dotfiles)', () => {
  const text = fixtureText('storage/spongeyperson_storage.cfg');
  const st = parseProxmoxStorage(text, FILE);
  assert.deepEqual(
    st.map((s) => `${s.type}:${s.id}`),
    ['dir:local', 'lvmthin:local-lvm', 'cifs:Backups-SMB', 'nfs:TrueNAS'],
  );
  const nfs = st[3]!;
  assert.equal(nfs.properties.options!.value, 'vers=4');
  // Each property line is an indented line of the stanza; count them independently.
  const stanza = text.slice(text.indexOf('nfs: TrueNAS')).split('\n\n')[0]!.split('\n').slice(1);
  assert.equal(Object.keys(nfs.properties).length, stanza.length);
});

test('a blank line ends a stanza; junk is an error; hostile text never throws anything but HyperwardError', () => {
  const st = parseProxmoxStorage('dir: a\n\tpath /x\n\n\tpath /y\n', FILE);
  assert.equal(st[0]!.properties.path!.value, '/x');
  expectError(() => parseProxmoxStorage('dir: a\n\0', FILE), 'E_UNSUPPORTED_FORMAT');
  const base = fixtureText('storage/spongeyperson_storage.cfg');
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.nat(), (s, at) => {
      onlyHyperwardErrors(() => parseProxmoxStorage(s, FILE));
      const p = at % (base.length + 1);
      onlyHyperwardErrors(() => parseProxmoxStorage(base.slice(0, p) + s + base.slice(p), FILE));
    }),
    { numRuns: 300 },
  );
});

test('property: stanzas written as pvesm writes them read back the same', () => {
  const id = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
  const key = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/);
  const value = fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/);
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom('dir', 'nfs', 'lvmthin', 'pbs'),
          id,
          fc.dictionary(key, value, { maxKeys: 6 }),
        ),
        {
          maxLength: 6,
        },
      ),
      (stanzas) => {
        const text = stanzas
          .map(
            ([t, i, p]) =>
              `${t}: ${i}\n${Object.entries(p)
                .map(([k, v]) => `\t${k} ${v}\n`)
                .join('')}`,
          )
          .join('\n');
        const st = parseProxmoxStorage(text, FILE);
        assert.deepEqual(
          st.map((s) => [
            s.type,
            s.id,
            Object.fromEntries(Object.entries(s.properties).map(([k, e]) => [k, e.value])),
          ]),
          stanzas.map(([t, i, p]) => [t, i, { ...p }]),
        );
      },
    ),
    { numRuns: 300 },
  );
});
