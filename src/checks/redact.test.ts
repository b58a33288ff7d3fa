import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { REDACTED, redactEnv, redactSecrets } from './redact.js';

test('masks secret-looking values in QEMU argument strings, keeps the rest', () => {
  assert.equal(
    redactSecrets('-object secret,id=sec0,data=Hunter2Passw0rd -vnc 0.0.0.0:1,password=on'),
    `-object secret,id=sec0,data=${REDACTED} -vnc 0.0.0.0:1,password=${REDACTED}`,
  );
  assert.equal(
    redactSecrets('-drive file=iscsi://u%40x:s3cr3t@h/t,password-secret=sec0'),
    `-drive file=iscsi://u%40x:${REDACTED}@h/t,password-secret=${REDACTED}`,
  );
  assert.equal(redactSecrets('-smp 4 -m 2048'), '-smp 4 -m 2048');
  assert.equal(redactEnv('QEMU_AUDIO_DRV=none'), `QEMU_AUDIO_DRV=${REDACTED}`);
});

test('a secret value never survives redaction (property)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('password', 'data', 'secret', 'token', 'auth', 'passwd', 'api-key'),
      fc.stringMatching(/^[A-Za-z0-9]{6,20}$/),
      fc.constantFrom(' ', ','),
      (key, value, lead) => {
        const out = redactSecrets(`-opt x${lead}${key}=${value}`);
        assert.ok(!out.includes(value), out);
      },
    ),
    { numRuns: 300 },
  );
});
