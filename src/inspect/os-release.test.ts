import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { detectHostname, detectOs, parseOsRelease, type FileReader } from './os-release.js';

function files(map: Record<string, string>): FileReader {
  return { tryReadFile: (p) => (p in map ? Buffer.from(map[p]!) : undefined) };
}

// Debian 12's /usr/lib/os-release, as shipped by base-files 12.4+deb12u5.
const DEBIAN12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

test('os-release: quotes, escapes, comments and junk lines', () => {
  const f = parseOsRelease(
    `# comment\nA="x \\"y\\" \\$z"\nB='single $x'\nC=bare\n  D = nope\nnot a line\nE=""\n`,
  );
  assert.deepEqual(f, { A: 'x "y" $z', B: 'single $x', C: 'bare', E: '' });
});

test('detectOs: os-release first, /usr/lib fallback', () => {
  const os = detectOs(files({ '/usr/lib/os-release': DEBIAN12 }));
  assert.equal(os?.id, 'debian');
  assert.equal(os?.versionId, '12');
  assert.equal(os?.versionCodename, 'bookworm');
  assert.equal(os?.family, 'debian');
  assert.equal(os?.source, '/usr/lib/os-release');
  const ubuntu = detectOs(
    files({
      '/etc/os-release': 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
      '/usr/lib/os-release': DEBIAN12,
    }),
  );
  assert.equal(ubuntu?.id, 'ubuntu');
  assert.equal(ubuntu?.family, 'debian');
  assert.equal(ubuntu?.source, '/etc/os-release');
});

test('detectOs: older distribution files when there is no os-release', () => {
  assert.deepEqual(
    [
      detectOs(files({ '/etc/debian_version': '7.11\n' }))?.versionId,
      detectOs(files({ '/etc/debian_version': 'bookworm/sid\n' }))?.versionCodename,
    ],
    ['7', 'bookworm'],
  );
  const c6 = detectOs(
    files({
      '/etc/redhat-release': 'CentOS release 6.10 (Final)\n',
      '/etc/centos-release': 'CentOS release 6.10 (Final)\n',
    }),
  );
  assert.equal(c6?.id, 'centos');
  assert.equal(c6?.versionId, '6.10');
  assert.equal(c6?.family, 'rhel');
  assert.equal(detectOs(files({ '/etc/alpine-release': '3.19.1\n' }))?.versionId, '3.19.1');
  assert.equal(
    detectOs(files({ '/etc/lsb-release': 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=14.04\n' }))?.id,
    'ubuntu',
  );
  assert.equal(detectOs(files({})), undefined);
});

test('detectHostname: first valid line, rejects junk', () => {
  assert.equal(
    detectHostname(files({ '/etc/hostname': '# set by installer\nweb-01.example.org\n' })),
    'web-01.example.org',
  );
  assert.equal(detectHostname(files({ '/etc/hostname': 'bad host name; rm -rf\n' })), undefined);
  assert.equal(detectHostname(files({ '/etc/HOSTNAME': 'suse1\n' })), 'suse1');
});

test('parseOsRelease never throws and only yields valid keys (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 2000 }), (s) => {
      for (const k of Object.keys(parseOsRelease(s))) assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/);
    }),
    { numRuns: 300 },
  );
});
