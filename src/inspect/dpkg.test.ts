import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { parseDeb822, parseDpkgStatus } from './dpkg.js';

// Paragraphs in the shape dpkg writes them (Debian 12 status file excerpt, trimmed descriptions).
const STATUS = `Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6340
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.15-1~deb12u1
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 .
 Internet.

Package: bsdutils
Essential: yes
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5)
Version: 1:2.38.1-5+deb12u3

Package: oldpkg
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: halfway
Status: install reinstreq half-installed
Architecture: amd64
Version: 2.0-1
`;

test('dpkg status: source packages, epochs, states', () => {
  const pkgs = parseDpkgStatus(STATUS, '/var/lib/dpkg/status');
  assert.deepEqual(
    pkgs.map((p) => [p.name, p.version, p.arch, p.sourceName, p.sourceVersion]),
    [
      ['libssl3', '3.0.15-1~deb12u1', 'amd64', 'openssl', '3.0.15-1~deb12u1'],
      ['bsdutils', '1:2.38.1-5+deb12u3', 'amd64', 'util-linux', '2.38.1-5'],
      ['halfway', '2.0-1', 'amd64', 'halfway', '2.0-1'],
    ],
  );
  assert.equal(pkgs[0]!.installedSize, 6340);
  assert.match(pkgs[0]!.maintainer!, /OpenSSL/);
});

test('deb822: continuation lines, CRLF, case-insensitive names', () => {
  const [p] = parseDeb822('PACKAGE: a\r\nDescription: one\r\n two\r\n', 'x');
  assert.equal(p!.get('package'), 'a');
  assert.equal(p!.get('description'), 'one\ntwo');
});

test('status.d paragraphs without Status count as installed', () => {
  const pkgs = parseDpkgStatus(
    'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n',
    'status.d/base',
  );
  assert.equal(pkgs.length, 1);
});

test('dpkg parser survives arbitrary and hostile text (property)', () => {
  const line = fc.oneof(
    fc.constantFrom(
      'Package: a',
      'Version: 1',
      'Status: install ok installed',
      'Source: x (',
      ' cont',
      '',
      ':',
      'Source: (1)',
    ),
    fc.string({ maxLength: 80 }),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 200 }), (lines) => {
      onlyHyperwardErrors(() => {
        for (const p of parseDpkgStatus(lines.join('\n'), 'fuzz')) {
          assert.ok(p.name.length > 0 && p.version.length > 0);
        }
      });
    }),
    { numRuns: 300 },
  );
});
