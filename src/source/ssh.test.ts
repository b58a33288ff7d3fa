import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { pattern } from '../../test/helpers/pattern.js';
import { freePort, startSshd, type TestSshd } from '../../test/helpers/sshd.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import {
  buildCommand,
  knownHostName,
  knownHostsFieldMatches,
  openSsh,
  parseKnownHosts,
  parseSshUrl,
  shellQuote,
  sudoCatCommand,
  type AllowedCommand,
  type SshOptions,
  type SshRoot,
} from './ssh.js';

let sshd: TestSshd;
let scratch: { dir: string; cleanup: () => void };
/** A host-like tree the tests read back over SSH. */
let tree: string;
/** Files outside `tree` that symlinks in it point to. */
let outside: string;
/** known_hosts with the server's ed25519 key under `[127.0.0.1]:PORT`. */
let goodKnownHosts: string;
let counter = 0;

function file(name: string, content: string | Buffer): string {
  const p = join(scratch.dir, `${counter++}-${name}`);
  writeFileSync(p, content);
  return p;
}

function knownHosts(lines: string[]): string {
  return file('known_hosts', lines.map((l) => `${l}\n`).join(''));
}

function hostLine(hosts: string, i = 0): string {
  const k = sshd.hostKeys[i]!;
  return `${hosts} ${k.type} ${k.base64}`;
}

/** `ssh-keygen -l -E sha256` of a public key file: the fingerprint OpenSSH prints. */
function keygenFingerprint(pubFile: string): string {
  return run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]).split(/\s+/)[1]!;
}

function connect(extra: SshOptions = {}): Promise<SshRoot> {
  return openSsh(sshd.url, {
    identityFile: sshd.clientKey,
    knownHostsFile: goodKnownHosts,
    agent: '',
    ...extra,
  });
}

async function rejects(p: Promise<unknown>, code: string, re?: RegExp): Promise<HyperwardError> {
  try {
    const v = await p;
    if (v && typeof (v as SshRoot).close === 'function') await (v as SshRoot).close();
  } catch (e) {
    assert.ok(
      isHyperwardError(e),
      `expected HyperwardError ${code}, got ${(e as Error)?.stack ?? String(e)}`,
    );
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/**
 * Whether OpenSSH's own client accepts the server's host key with this known_hosts file (the oracle for host
 * keys). It offers no authentication at all, so a trusted host ends in "Permission denied" and no remote shell
 * starts; an untrusted one ends in "Host key verification failed".
 */
function opensshAccepts(knownHostsFile: string): Promise<boolean> {
  const opts = [
    'BatchMode=yes',
    'StrictHostKeyChecking=yes',
    'UpdateHostKeys=no',
    'CheckHostIP=no',
    'PubkeyAuthentication=no',
    'PasswordAuthentication=no',
    'KbdInteractiveAuthentication=no',
    `UserKnownHostsFile=${knownHostsFile}`,
    'GlobalKnownHostsFile=/dev/null',
    'LogLevel=ERROR',
  ];
  const argv = ['-F', '/dev/null', '-p', String(sshd.port), ...opts.flatMap((o) => ['-o', o])];
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...argv, `${sshd.user}@127.0.0.1`, 'true'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', () => {
      clearTimeout(timer);
      if (/Permission denied/.test(stderr)) resolve(true);
      else if (/Host key verification failed/.test(stderr)) resolve(false);
      else reject(new Error(`ssh gave neither answer: ${stderr}`));
    });
  });
}

before(async () => {
  scratch = tempDir('hyperward-ssh-test-');
  // The SFTP server runs without CAP_DAC_OVERRIDE, so even a root login meets real permission checks over SFTP,
  // and it accepts only read-only requests: any write this client sent would fail the tests.
  sshd = await startSshd({ sftpWithoutDacOverride: true });
  goodKnownHosts = knownHosts([hostLine(`[127.0.0.1]:${sshd.port}`)]);
  tree = join(scratch.dir, 'tree');
  outside = join(scratch.dir, 'outside');
  mkdirSync(join(tree, 'etc', 'libvirt'), { recursive: true });
  mkdirSync(join(tree, 'many'));
  mkdirSync(join(tree, 'locked'));
  mkdirSync(outside);
  writeFileSync(join(tree, 'etc', 'hostname'), 'hv01\n');
  writeFileSync(join(tree, 'etc', 'os-release'), readFileSync('/etc/os-release'));
  writeFileSync(join(tree, 'etc', 'empty'), '');
  for (const [name, size, seed] of [
    ['one', 1, 1],
    ['page', 4095, 2],
    ['chunks', 300 * 1024 + 7, 3],
    ['big', 3 * 1024 * 1024 + 13, 4],
  ] as const) {
    writeFileSync(join(tree, 'etc', 'libvirt', name), pattern(size, seed));
  }
  for (let i = 0; i < 300; i++) writeFileSync(join(tree, 'many', `vm-${i}.xml`), `<domain>${i}</domain>`);
  writeFileSync(join(outside, 'target.conf'), 'outside the tree\n');
  symlinkSync(join(tree, 'etc', 'hostname'), join(tree, 'etc', 'hostname-link'));
  symlinkSync(join(outside, 'target.conf'), join(tree, 'etc', 'outside-link'));
  symlinkSync(join(tree, 'nowhere'), join(tree, 'etc', 'dangling'));
  symlinkSync(join(tree, 'many'), join(tree, 'many-link'));
  run('mkfifo', [join(tree, 'etc', 'fifo')]);
  // Root-only: mode 000 files, and a mode 000 directory with files in it.
  writeFileSync(join(tree, 'etc', 'shadow'), pattern(1024 * 1024 + 3, 5));
  chmodSync(join(tree, 'etc', 'shadow'), 0o000);
  writeFileSync(join(tree, 'locked', 'qemu.conf'), 'user = "root"\n');
  writeFileSync(join(tree, 'locked', "it's\nodd"), 'newline in the name\n');
  writeFileSync(join(tree, 'locked', 'large'), pattern(5000, 6));
  chmodSync(join(tree, 'locked'), 0o000);
});

after(async () => {
  await sshd?.stop();
  if (tree) chmodSync(join(tree, 'locked'), 0o755);
  scratch?.cleanup();
});

describe('openSsh: host key verification against known_hosts', () => {
  it('accepts a [host]:port entry, and a port-less one only while no [host]:port entry exists (as OpenSSH)', async () => {
    const root = await connect();
    await root.close();
    const portless = knownHosts([hostLine('127.0.0.1')]);
    await (await connect({ knownHostsFile: portless })).close();
    const other = join(scratch.dir, 'portless_other');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [type, b64] = readFileSync(`${other}.pub`, 'utf8').split(/\s+/);
    const shadowed = knownHosts([`[127.0.0.1]:${sshd.port} ${type} ${b64}`, hostLine('127.0.0.1')]);
    await rejects(connect({ knownHostsFile: shadowed }), 'E_AUTH', /HOST KEY MISMATCH/);
    assert.equal(await opensshAccepts(shadowed), false);
    const wrongBare = knownHosts([`127.0.0.1 ${type} ${b64}`]);
    await rejects(connect({ knownHostsFile: wrongBare }), 'E_AUTH', /not known/);
    assert.equal(await opensshAccepts(wrongBare), false);
    assert.equal(knownHostName('127.0.0.1', sshd.port), `[127.0.0.1]:${sshd.port}`);
    assert.equal(knownHostName('h.example', 22), 'h.example');
  });

  it('refuses an unknown host key with E_AUTH, its SHA256 fingerprint as ssh-keygen prints it, and how to add it', async () => {
    const empty = knownHosts([]);
    const e = await rejects(connect({ knownHostsFile: empty }), 'E_AUTH');
    const presented = sshd.hostKeys.find((k) => e.message.includes(keygenFingerprint(k.pubFile)));
    assert.ok(presented, e.message);
    assert.ok(e.message.includes(`${presented.type} ${keygenFingerprint(presented.pubFile)}`), e.message);
    assert.match(e.message, new RegExp(`ssh-keyscan -p ${sshd.port} -t \\w+ 127\\.0\\.0\\.1 >> `));
    assert.equal(e.location.file, empty);
  });

  it('refuses a changed host key of the same type, naming both fingerprints', async () => {
    const other = join(scratch.dir, 'other_ed25519');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [type, b64] = readFileSync(`${other}.pub`, 'utf8').split(/\s+/);
    const kh = knownHosts([`[127.0.0.1]:${sshd.port} ${type} ${b64}`]);
    const e = await rejects(connect({ knownHostsFile: kh }), 'E_AUTH', /HOST KEY MISMATCH/);
    assert.ok(e.message.includes(keygenFingerprint(`${other}.pub`)), e.message);
    assert.ok(e.message.includes(keygenFingerprint(sshd.hostKeys[0]!.pubFile)), e.message);
    assert.ok(e.message.includes(`ssh-keygen -R '[127.0.0.1]:${sshd.port}'`), e.message);
    assert.equal(await opensshAccepts(kh), false);
  });

  it('refuses a host that offers none of the key types known_hosts lists for it', async () => {
    // The server has ed25519 and ECDSA P-256 keys; known_hosts has only a P-384 one.
    const p384 = join(scratch.dir, 'other_p384');
    run('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '384', '-N', '', '-f', p384]);
    const [type, b64] = readFileSync(`${p384}.pub`, 'utf8').split(/\s+/);
    const kh = knownHosts([`[127.0.0.1]:${sshd.port} ${type} ${b64}`]);
    const e = await rejects(connect({ knownHostsFile: kh }), 'E_AUTH', /HOST KEY MISMATCH/);
    assert.ok(e.message.includes(`ecdsa-sha2-nistp384 ${keygenFingerprint(`${p384}.pub`)}`), e.message);
    assert.equal(await opensshAccepts(kh), false);
  });

  it('negotiates the key type known_hosts has (ECDSA only, although ed25519 is preferred)', async () => {
    const ecdsa = sshd.hostKeys.findIndex((k) => k.type.startsWith('ecdsa-'));
    const kh = knownHosts([hostLine(`[127.0.0.1]:${sshd.port}`, ecdsa)]);
    const root = await connect({ knownHostsFile: kh });
    await root.close();
    assert.equal(await opensshAccepts(kh), true);
  });

  it('accepts hashed entries written by ssh-keygen -H, for this port only', async () => {
    const kh = knownHosts([hostLine('decoy.example'), hostLine(`[127.0.0.1]:${sshd.port}`, 1)]);
    run('ssh-keygen', ['-H', '-f', kh]);
    const text = readFileSync(kh, 'utf8');
    assert.ok(!text.includes('127.0.0.1') && !text.includes('decoy'), text);
    assert.equal(parseKnownHosts(text).filter((l) => l.hosts.startsWith('|1|')).length, 2);
    const root = await connect({ knownHostsFile: kh });
    await root.close();
    const wrongPort = knownHosts([hostLine(`[127.0.0.1]:${sshd.port + 1}`)]);
    run('ssh-keygen', ['-H', '-f', wrongPort]);
    await rejects(connect({ knownHostsFile: wrongPort }), 'E_AUTH', /not known/);
  });

  it('refuses a key marked @revoked even when another line lists it', async () => {
    const kh = knownHosts([`@revoked ${hostLine('*')}`, hostLine(`[127.0.0.1]:${sshd.port}`)]);
    await rejects(connect({ knownHostsFile: kh }), 'E_AUTH', /revoked/);
    assert.equal(await opensshAccepts(kh), false);
  });

  it("decides like OpenSSH's ssh client on every known_hosts variant", async () => {
    const p = sshd.port;
    const variants: Array<[string, string[]]> = [
      ['bracketed', [hostLine(`[127.0.0.1]:${p}`)]],
      ['port-less', [hostLine('127.0.0.1')]],
      ['port-less, other port bracketed', [hostLine(`[127.0.0.1]:${p + 1}`), hostLine('127.0.0.1')]],
      ['port-less wildcard', [hostLine('127.0.0.*')]],
      ['wildcard host', [hostLine(`[127.0.0.?]:${p}`)]],
      ['wildcard port', [hostLine('[127.0.0.1]:*')]],
      ['star', [hostLine('*')]],
      ['negated', [hostLine(`*,![127.0.0.1]:${p}`)]],
      ['negation elsewhere', [hostLine(`[127.0.0.1]:${p},!other`)]],
      ['upper-case pattern', [hostLine(`[127.0.0.1]:${p}`.toUpperCase())]],
      ['comment and blank lines', ['# comment', '', `  ${hostLine(`[127.0.0.1]:${p}`)} trailing comment`]],
      ['second line', [hostLine('other.example'), hostLine(`[127.0.0.1]:${p}`)]],
      ['cert-authority only', [`@cert-authority ${hostLine('*')}`]],
      ['broken base64 then good', [`[127.0.0.1]:${p} ssh-ed25519 AAAA!!`, hostLine(`[127.0.0.1]:${p}`)]],
    ];
    const decisions = await Promise.all(
      variants.map(async ([name, lines]) => {
        const kh = knownHosts(lines);
        const theirs = opensshAccepts(kh);
        let ours: boolean;
        try {
          await (await connect({ knownHostsFile: kh })).close();
          ours = true;
        } catch (e) {
          assert.ok(isHyperwardError(e) && e.code === 'E_AUTH', `${name}: ${String(e)}`);
          ours = false;
        }
        return { name, ours, theirs: await theirs };
      }),
    );
    for (const d of decisions) {
      assert.equal(d.ours, d.theirs, `${d.name}: hyperward ${d.ours ? 'accepted' : 'refused'}`);
    }
    // Both outcomes occur, so the comparison means something.
    assert.ok(decisions.some((d) => d.ours) && decisions.some((d) => !d.ours));
  });
});

describe('openSsh: authentication and connection failures', () => {
  it('refuses a key the server does not know with E_AUTH', async () => {
    const wrong = join(scratch.dir, 'wrong_ed25519');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    await rejects(connect({ identityFile: wrong }), 'E_AUTH', /refused every key/);
  });

  it('authenticates through a real ssh-agent, and fails with E_AUTH when the agent lacks the key', async () => {
    const sock = join(scratch.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
      const env = { ...process.env, SSH_AUTH_SOCK: sock };
      // An empty agent (and whatever default ~/.ssh keys exist, which are not in this server's authorized_keys).
      await rejects(openSsh(sshd.url, { knownHostsFile: goodKnownHosts, agent: sock }), 'E_AUTH');
      execFileSync('ssh-add', [sshd.clientKey], { env, stdio: 'ignore' });
      const root = await openSsh(sshd.url, { knownHostsFile: goodKnownHosts, agent: sock });
      await root.prefetch([join(tree, 'etc', 'hostname')]);
      assert.equal(
        root
          .snapshot()
          .tryReadFile(join(tree, 'etc', 'hostname'))
          ?.toString(),
        'hv01\n',
      );
      await root.close();
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('refuses a missing or passphrase-protected identity file with E_USAGE before connecting', async () => {
    await rejects(connect({ identityFile: join(scratch.dir, 'no-such-key') }), 'E_USAGE', /not found/);
    const enc = join(scratch.dir, 'encrypted_ed25519');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret passphrase', '-f', enc]);
    await rejects(connect({ identityFile: enc }), 'E_USAGE', /ssh-agent/);
  });

  // Fails fast: a wait for a connection would meet the test's timeout.
  it('fails fast with E_IO on a closed port', { timeout: 30_000 }, async () => {
    const port = await freePort();
    await rejects(
      openSsh(`ssh://${sshd.user}@127.0.0.1:${port}`, {
        identityFile: sshd.clientKey,
        knownHostsFile: goodKnownHosts,
        agent: '',
      }),
      'E_IO',
      /ECONNREFUSED/,
    );
  });

  it(
    'times out with E_IO on a server that accepts and never speaks, or speaks garbage',
    { timeout: 30_000 },
    async () => {
      const sockets: Socket[] = [];
      const listen = (onConn: (s: Socket) => void): Promise<{ server: Server; port: number }> =>
        new Promise((resolve) => {
          const server = createServer((s) => {
            sockets.push(s);
            onConn(s);
          });
          server.listen(0, '127.0.0.1', () => {
            const a = server.address();
            resolve({ server, port: typeof a === 'object' && a !== null ? a.port : 0 });
          });
        });
      const silent = await listen(() => undefined);
      const garbage = await listen((s) => s.end(Buffer.from(pattern(64 * 1024, 9))));
      try {
        const opts = {
          identityFile: sshd.clientKey,
          knownHostsFile: goodKnownHosts,
          agent: '',
          timeoutMs: 400,
        };
        const t0 = performance.now();
        await rejects(openSsh(`ssh://u@127.0.0.1:${silent.port}`, opts), 'E_IO', /timed out after 400 ms/);
        const elapsed = performance.now() - t0;
        // Not before the time asked (a timer's early wake-up allowed for); a wait past it meets the test's timeout.
        assert.ok(elapsed >= 350, `${elapsed} ms`);
        await rejects(openSsh(`ssh://u@127.0.0.1:${garbage.port}`, opts), 'E_IO');
      } finally {
        for (const s of sockets) s.destroy();
        silent.server.close();
        garbage.server.close();
      }
    },
  );

  it('parses ssh:// URLs and refuses passwords, paths and bad ports', () => {
    assert.deepEqual(parseSshUrl('ssh://admin@HV01.example:2222'), {
      user: 'admin',
      host: 'hv01.example',
      port: 2222,
    });
    assert.deepEqual(parseSshUrl('ssh://root@[::1]'), { user: 'root', host: '::1', port: 22 });
    assert.equal(knownHostName(parseSshUrl('ssh://root@[::1]:2200').host, 2200), '[::1]:2200');
    assert.equal(parseSshUrl('ssh://h.example').port, 22);
    for (const bad of [
      'http://u@h',
      'ssh://u:pw@h',
      'ssh://u@h/etc',
      'ssh://u@h:0',
      'ssh://u@h?x=1',
      'not a url',
    ]) {
      assert.throws(
        () => parseSshUrl(bad),
        (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
        bad,
      );
    }
  });
});

describe('SshRoot.prefetch over one SFTP session', () => {
  let root: SshRoot;
  before(async () => {
    root = await connect();
  });
  after(async () => {
    await root?.close();
  });

  it('reads files byte for byte, including multi-request reads and empty files', async () => {
    const names = [
      'hostname',
      'os-release',
      'empty',
      'libvirt/one',
      'libvirt/page',
      'libvirt/chunks',
      'libvirt/big',
    ];
    const paths = names.map((n) => join(tree, 'etc', n));
    const s = await root.prefetch(paths);
    const snap = root.snapshot();
    let bytes = 0;
    for (const p of paths) {
      const want = readFileSync(p);
      bytes += want.length;
      assert.deepEqual(snap.tryReadFile(p), want, p);
      assert.deepEqual(snap.file(p), { status: 'ok', data: want, via: 'sftp' }, p);
    }
    assert.equal(s.files, paths.length);
    assert.equal(s.filesRead, paths.length);
    assert.equal(s.bytes, bytes);
  });

  it('reads to end of file, not to the stated size (procfs states 0)', async () => {
    await root.prefetch(['/proc/version']);
    // The server runs on this machine, so the kernel's own answer is the oracle.
    assert.deepEqual(root.snapshot().tryReadFile('/proc/version'), readFileSync('/proc/version'));
  });

  it('lists directories, following a symlinked directory, and tells missing and non-directories apart', async () => {
    const many = join(tree, 'many');
    const s = await root.prefetch(
      [],
      [many, join(tree, 'many-link'), join(tree, 'etc'), join(tree, 'nope'), join(tree, 'etc', 'hostname')],
    );
    const snap = root.snapshot();
    const want = readdirSync(many).sort();
    assert.equal(want.length, 300);
    assert.deepEqual(snap.list(many), want);
    assert.deepEqual(snap.list(join(tree, 'many-link')), want);
    assert.deepEqual(snap.list(join(tree, 'etc')), readdirSync(join(tree, 'etc')).sort());
    assert.equal(snap.list(join(tree, 'nope')), undefined);
    assert.deepEqual(snap.dir(join(tree, 'nope')), { status: 'missing' });
    assert.equal(snap.list(join(tree, 'etc', 'hostname')), undefined);
    assert.deepEqual(snap.dir(join(tree, 'etc', 'hostname')), { status: 'not-dir' });
    assert.equal(s.dirsListed, 3);
  });

  it('caps file sizes: a file at the cap is kept, one byte more is too large', async () => {
    const page = join(tree, 'etc', 'libvirt', 'page');
    const big = join(tree, 'etc', 'libvirt', 'big');
    const size = readFileSync(page).length;
    await root.prefetch([page, big], [], { maxBytes: size });
    const snap = root.snapshot();
    assert.equal(snap.tryReadFile(page)?.length, size);
    assert.equal(snap.tryReadFile(page, size - 1), undefined);
    assert.equal(snap.tryReadFile(big), undefined);
    assert.deepEqual(snap.file(big), { status: 'too-large', size: readFileSync(big).length });
    assert.ok(snap.problems().some((p) => p.path === big && p.code === 'E_LIMIT'));
  });

  it('records missing paths, directories, FIFOs and dangling links as absent without hanging', async () => {
    const etc = join(tree, 'etc');
    const paths = ['nope', 'libvirt', 'fifo', 'dangling'].map((n) => join(etc, n));
    await root.prefetch(paths);
    const snap = root.snapshot();
    for (const p of paths) assert.equal(snap.tryReadFile(p), undefined, p);
    assert.deepEqual(snap.file(join(etc, 'nope')), { status: 'missing' });
    assert.deepEqual(snap.file(join(etc, 'libvirt')), { status: 'not-file' });
    assert.deepEqual(snap.file(join(etc, 'fifo')), { status: 'not-file' });
    assert.deepEqual(snap.file(join(etc, 'dangling')), { status: 'missing' });
  });

  it('follows symlinks on the remote side and records only the path asked for', async () => {
    const inLink = join(tree, 'etc', 'hostname-link');
    const outLink = join(tree, 'etc', 'outside-link');
    const fresh = await connect();
    try {
      await fresh.prefetch([inLink, outLink]);
      const snap = fresh.snapshot();
      assert.deepEqual(snap.tryReadFile(inLink), readFileSync(join(tree, 'etc', 'hostname')));
      assert.deepEqual(snap.tryReadFile(outLink), readFileSync(join(outside, 'target.conf')));
      assert.equal(snap.file(join(tree, 'etc', 'hostname')), undefined);
      assert.equal(snap.file(join(outside, 'target.conf')), undefined);
      assert.equal(snap.tryReadFile(join(outside, 'target.conf')), undefined);
    } finally {
      await fresh.close();
    }
  });

  it('normalizes paths, refuses relative and .. paths, and snapshots do not change later', async () => {
    const fresh = await connect();
    try {
      const host = join(tree, 'etc', 'hostname');
      await fresh.prefetch([`/${host.replace(/\//g, '//')}/`]);
      const snap = fresh.snapshot();
      assert.equal(snap.tryReadFile(host)?.toString(), 'hv01\n');
      assert.equal(snap.tryReadFile(`${host}/.`)?.toString(), 'hv01\n');
      assert.equal(snap.tryReadFile('etc/hostname'), undefined);
      assert.equal(snap.tryReadFile(join(tree, 'etc', 'os-release')), undefined, 'never fetched');
      await rejects(fresh.prefetch(['etc/hostname']), 'E_USAGE');
      await rejects(fresh.prefetch([`${tree}/etc/../etc/hostname`]), 'E_USAGE');
      await rejects(fresh.prefetch([], ['relative']), 'E_USAGE');
      await fresh.prefetch([join(tree, 'etc', 'os-release')]);
      assert.equal(snap.tryReadFile(join(tree, 'etc', 'os-release')), undefined, 'old snapshot');
      assert.ok(fresh.snapshot().tryReadFile(join(tree, 'etc', 'os-release')));
    } finally {
      await fresh.close();
    }
  });

  it('keeps at most maxTotalBytes over the whole session', async () => {
    const fresh = await connect({ maxTotalBytes: 5000 });
    try {
      const paths = ['page', 'one', 'chunks'].map((n) => join(tree, 'etc', 'libvirt', n));
      await fresh.prefetch(paths.slice(0, 2));
      await fresh.prefetch(paths.slice(2), [], { maxBytes: 1024 * 1024 });
      const snap = fresh.snapshot();
      assert.equal(snap.tryReadFile(paths[0]!)?.length, 4095);
      assert.equal(snap.tryReadFile(paths[1]!)?.length, 1);
      assert.equal(snap.file(paths[2]!)?.status, 'error');
      assert.match(snap.problems().find((p) => p.path === paths[2])?.message ?? '', /budget of 5000 bytes/);
    } finally {
      await fresh.close();
    }
  });

  it('reports denied files without sudo, and fails cleanly after close', async () => {
    const fresh = await connect();
    const shadow = join(tree, 'etc', 'shadow');
    await fresh.prefetch([shadow], [join(tree, 'locked')]);
    const snap = fresh.snapshot();
    assert.equal(snap.tryReadFile(shadow), undefined);
    assert.equal(snap.file(shadow)?.status, 'denied');
    assert.equal(snap.dir(join(tree, 'locked'))?.status, 'denied');
    assert.deepEqual(
      snap.problems().map((p) => p.path),
      [shadow, join(tree, 'locked')].sort(),
    );
    await fresh.close();
    await rejects(fresh.prefetch([join(tree, 'etc', 'hostname')]), 'E_USAGE', /closed/);
  });

  it('the test server really refuses writes (so the read-only tests can fail)', () => {
    const target = join(scratch.dir, 'made-by-sftp');
    const r = spawnSync(
      'sftp',
      [
        '-b',
        '-',
        '-F',
        '/dev/null',
        '-o',
        `UserKnownHostsFile=${goodKnownHosts}`,
        '-o',
        'BatchMode=yes',
        '-i',
        sshd.clientKey,
        '-P',
        String(sshd.port),
        `${sshd.user}@127.0.0.1`,
      ],
      { input: `mkdir ${target}\n`, encoding: 'utf8', timeout: 10_000 },
    );
    assert.notEqual(r.status, 0, r.stdout + r.stderr);
    assert.equal(existsSync(target), false);
  });
});

describe('a hostile or stuck SFTP server', () => {
  let bad: TestSshd;
  let modeFile: string;
  before(async () => {
    modeFile = join(scratch.dir, 'hostile-mode');
    // Plays the SFTP subsystem: broken packets, a stuck server, an early exit; then waits for the client to leave.
    const script = file(
      'hostile-sftp.sh',
      [
        // Each SFTP session the client opens is counted, to tell that a failed session is not opened again.
        'printf x >> "$1.sessions"',
        'case "$(cat "$1")" in',
        "  garbage) printf '\\000\\000\\000\\005\\077abcd' ;;",
        "  huge) printf '\\177\\377\\377\\377\\002' ;;",
        "  negative-length) printf '\\377\\377\\377\\377\\002' ;;",
        "  bad-attrs) printf '\\000\\000\\000\\005\\002\\000\\000\\000\\003'; sleep 0.3;" +
          " printf '\\000\\000\\000\\005\\151\\000\\000\\000\\000' ;;",
        '  exit) exit 3 ;;',
        '  silent) ;;',
        'esac',
        'exec cat > /dev/null',
        '',
      ].join('\n'),
    );
    bad = await startSshd({ sftpCommand: `/bin/sh ${script} ${modeFile}` });
  });
  after(async () => {
    await bad?.stop();
  });

  const cases: Array<[string, RegExp]> = [
    ['garbage', /Unknown packet type 63/],
    ['huge', /exceeds max length/],
    // ssh2 reads a length of 0xffffffff as -1; it must still end cleanly.
    ['negative-length', /unexpected SFTP session termination/],
    ['bad-attrs', /Malformed ATTRS packet/],
    ['exit', /exit code 3/],
    ['silent', /timed out after 800 ms/],
  ];
  for (const [mode, expected] of cases) {
    // Only the silent server is left to the session's timeout; the others must fail on what they send, however long
    // a loaded machine takes to deliver it (a hang would meet the test's own timeout).
    it(`ends the session with E_IO, without crashing or hanging: ${mode}`, { timeout: 60_000 }, async (t) => {
      writeFileSync(modeFile, mode);
      writeFileSync(`${modeFile}.sessions`, '');
      const kh = knownHosts([`[127.0.0.1]:${bad.port} ${bad.hostKeys[0]!.type} ${bad.hostKeys[0]!.base64}`]);
      const root = await openSsh(bad.url, {
        identityFile: bad.clientKey,
        knownHostsFile: kh,
        agent: '',
        timeoutMs: mode === 'silent' ? 800 : 30_000,
      });
      try {
        const e = await rejects(root.prefetch(['/etc/hostname']), 'E_IO', expected);
        t.diagnostic(e.message);
        const sessions = (): number => readFileSync(`${modeFile}.sessions`, 'utf8').length;
        // The server that sent something had its session started; the silent one may not have had it yet when the
        // client gave up (a loaded machine starts the subsystem late).
        if (mode !== 'silent') assert.equal(sessions(), 1, 'one SFTP session');
        // The session stays failed: a second round fails too, without opening a session again.
        const again = await rejects(root.prefetch(['/etc/hostname']), 'E_IO');
        t.diagnostic(again.message);
        // A TypeError from inside ssh2's parser is told as what it is, not in ssh2's words alone.
        if (/Cannot read properties/.test(again.message)) {
          assert.match(again.message, /malformed data from the server \(/);
        }
        assert.ok(sessions() <= 1, `${sessions()} SFTP sessions: a failed one was opened again`);
      } finally {
        await root.close();
      }
    });
  }
});

describe('SshRoot: sudo -n cat for files SFTP may not read', () => {
  let root: SshRoot;
  before(async () => {
    root = await connect({ sudo: true });
  });
  after(async () => {
    await root?.close();
  });

  it('reads a root-only file through sudo with the same bytes, and readable files still over SFTP', async () => {
    const shadow = join(tree, 'etc', 'shadow');
    const host = join(tree, 'etc', 'hostname');
    const s = await root.prefetch([shadow, host]);
    const snap = root.snapshot();
    assert.deepEqual(snap.file(shadow), { status: 'ok', data: readFileSync(shadow), via: 'sudo' });
    assert.deepEqual(snap.file(host), { status: 'ok', data: readFileSync(host), via: 'sftp' });
    assert.equal(s.viaSudo, 1);
  });

  it('reads inside an untraversable directory, and tells missing files there apart', async () => {
    const conf = join(tree, 'locked', 'qemu.conf');
    const nope = join(tree, 'locked', 'nope');
    await root.prefetch([conf, nope], [join(tree, 'locked')]);
    const snap = root.snapshot();
    assert.equal(snap.tryReadFile(conf)?.toString(), 'user = "root"\n');
    assert.deepEqual(snap.file(nope), { status: 'missing' });
    // Listing is SFTP only: sudo runs nothing but cat.
    assert.equal(snap.dir(join(tree, 'locked'))?.status, 'denied');
  });

  it('caps sudo output and never passes a path with a newline to the shell', async () => {
    const large = join(tree, 'locked', 'large');
    const odd = join(tree, 'locked', "it's\nodd");
    await root.prefetch([large, odd], [], { maxBytes: 4999 });
    const snap = root.snapshot();
    assert.deepEqual(snap.file(large), { status: 'too-large' });
    assert.equal(snap.file(odd)?.status, 'denied');
    assert.match((snap.file(odd) as { message: string }).message, /refusing to pass this path to sudo/);
    await root.prefetch([large], [], { maxBytes: 5000 });
    assert.deepEqual(root.snapshot().tryReadFile(large), pattern(5000, 6));
  });

  it('builds the sudo command line with single quotes only', () => {
    assert.equal(sudoCatCommand("/etc/it's"), `sudo -n cat -- '/etc/it'\\''s'`);
    for (const bad of ['etc/x', '/a\nb', '/a\rb', '/a\0b', '/a\\b']) {
      assert.throws(
        () => sudoCatCommand(bad),
        (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
      );
    }
  });
});

describe('SshRoot.run: allow-listed read-only commands', () => {
  let root: SshRoot;
  before(async () => {
    root = await connect();
  });
  after(async () => {
    await root?.close();
  });

  /** The same command run locally: the server is this machine, so its output is the oracle. */
  function local(argv: string[]): { stdout: string; status: number | null } {
    const r = spawnSync('bash', ['-c', argv.map(shellQuote).join(' ')], { encoding: 'utf8' });
    return { stdout: r.stdout, status: r.status };
  }

  it('runs dpkg-query -W with a format', async () => {
    const args = ['-W', '-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n', 'openssh-server', 'dpkg'];
    const r = await root.run('dpkg-query', args);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.toString('utf8'), local(['dpkg-query', ...args]).stdout);
    assert.match(r.stdout.toString('utf8'), /^dpkg\t/m);
  });

  it('runs virsh read-only against the test driver', async () => {
    const args = ['-c', 'test:///default', 'list', '--all'];
    const r = await root.run('virsh-readonly', args);
    assert.equal(r.command, 'virsh -r -c test:///default list --all');
    const want = local(['virsh', '-r', ...args]);
    assert.equal(r.exitCode, want.status, r.stderr);
    assert.equal(r.stdout.toString('utf8'), want.stdout);
  });

  it('returns the exit status of a command that is not installed (pveversion on Debian)', async () => {
    const r = await root.run('pveversion', ['-v']);
    assert.equal(r.exitCode, local(['pveversion', '-v']).status);
  });

  it('caps output with E_LIMIT', async () => {
    await rejects(root.run('dpkg-query', ['-W'], { maxBytes: 100 }), 'E_LIMIT');
  });

  it('refuses anything outside the allow-list before sending it', async () => {
    const bad: Array<[AllowedCommand, string[]]> = [
      ['dpkg-query', ['-W', 'x;id']],
      ['dpkg-query', ['-W', '$(id)']],
      ['dpkg-query', ['-W', '`id`']],
      ['dpkg-query', ['-W', "-f=${Package}'"]],
      ['dpkg-query', ['-W', '-f=$(id)']],
      ['dpkg-query', ['-W', '--admindir=/tmp']],
      ['dpkg-query', ['-l']],
      ['dpkg-query', ['--purge', 'x']],
      ['dpkg-query', ['-W', 'a\nb']],
      ['pveversion', ['-v', '-v']],
      ['pveversion', ['|', 'id']],
      ['virsh-readonly', ['destroy', 'vm1']],
      ['virsh-readonly', ['undefine', 'vm1']],
      ['virsh-readonly', ['dumpxml', '--security-info', 'vm1']],
      ['virsh-readonly', ['-c', 'qemu+ssh://evil/system', 'list']],
      ['virsh-readonly', ['-c', 'qemu:///system?x', 'list']],
      ['virsh-readonly', ['list', 'vm;id']],
      ['virsh-readonly', ['list', '-all']],
      ['virsh-readonly', []],
      ['rm' as AllowedCommand, ['-rf', '/']],
    ];
    for (const [cmd, args] of bad) {
      await rejects(root.run(cmd, args), 'E_USAGE');
    }
  });

  it('a real shell parses every accepted command line back into exactly the arguments given', () => {
    // Arguments drawn from every character class, plus the grammar's own pieces; a single shell run checks all.
    const piece = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('${Package}', '${Version}', '\\n', '\\t', '-f=', '--all', 'qemu', ';', "'", '$', '`'),
    );
    const argsArb = fc.tuple(
      fc.constantFrom<AllowedCommand>('dpkg-query', 'pveversion', 'virsh-readonly'),
      fc.array(
        fc.array(piece, { maxLength: 4 }).map((a) => a.join('')),
        { maxLength: 4 },
      ),
      fc.constantFrom<string[]>(['-W'], [], ['list'], ['-c', 'qemu:///system', 'dumpxml'], ['-v']),
    );
    const accepted: Array<{ line: string; argv: string[] }> = [];
    fc.assert(
      fc.property(argsArb, ([cmd, extra, head]) => {
        const args = [...head, ...extra];
        let line: string;
        try {
          line = buildCommand(cmd, args);
        } catch (e) {
          assert.ok(isHyperwardError(e) && e.code === 'E_USAGE', String(e));
          return;
        }
        const prog = cmd === 'virsh-readonly' ? ['virsh', '-r'] : [cmd];
        accepted.push({ line, argv: [...prog, ...args] });
      }),
      { numRuns: 400, seed: 20251 },
    );
    // Plain words and formats must both be accepted somewhere in the sample.
    assert.ok(accepted.length > 20, `${accepted.length} accepted`);
    // Replace the program with printf and let sh split the rest: NUL-separated words come back.
    const script = accepted.map((a) => `printf '%s\\0' ${a.line}; printf '\\n'`).join('\n');
    const out = execFileSync('/bin/sh', ['-c', script], {
      env: { PATH: '/usr/bin:/bin' },
      cwd: scratch.dir,
      encoding: 'utf8',
    });
    const lines = out.split('\n').slice(0, -1);
    assert.equal(lines.length, accepted.length);
    lines.forEach((l, i) =>
      assert.deepEqual(l.split('\0').slice(0, -1), accepted[i]!.argv, accepted[i]!.line),
    );
  });

  it('shellQuote survives a real shell for arbitrary text', () => {
    const samples = fc.sample(
      fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')),
      { numRuns: 300, seed: 7 },
    );
    samples.push("'", "''", "\\'", '$(id)', '`id`', '\n', "a'b'c", '"');
    const script = samples.map((s) => `printf '%s\\0' ${shellQuote(s)}`).join('\n');
    const out = execFileSync('/bin/sh', ['-c', script], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    assert.deepEqual(out.split('\0').slice(0, -1), samples);
  });
});

describe('known_hosts parsing', () => {
  it('matches exactly the lines ssh-keygen -F finds, for patterns, negations, ports, case and hashes', () => {
    const key = `${sshd.hostKeys[0]!.type} ${sshd.hostKeys[0]!.base64}`;
    const names = ['127.0.0.1', '[127.0.0.1]:2222', 'hv01.example', '[hv01.example]:2200', 'HV02.Example'];
    // Hashed forms of some names, by OpenSSH itself.
    const hk = knownHosts(names.slice(0, 3).map((n) => `${n} ${key}`));
    run('ssh-keygen', ['-H', '-f', hk]);
    const hashed = readFileSync(hk, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]!);
    const token = fc.constantFrom(
      ...names,
      ...hashed,
      '*',
      '127.0.0.?',
      '[127.0.0.1]:*',
      '[*]:2222',
      '*.example',
      'hv0?.EXAMPLE',
      '!127.0.0.1',
      '!*.example',
      '![127.0.0.1]:2222',
      'h*1*',
      '[hv01.example]:22',
    );
    const lineArb = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.array(token, { minLength: 1, maxLength: 3 }).map((t) => `${t.join(',')} ${key}`),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '# comment',
          '',
          '   ',
          `@revoked * ${key}`,
          `@cert-authority *.example ${key}`,
        ),
      },
    );
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 8 }), (lines) => {
        const text = lines.map((l) => `${l}\n`).join('');
        const path = join(scratch.dir, 'kh-prop');
        writeFileSync(path, text);
        const parsed = parseKnownHosts(text);
        for (const name of names) {
          // ssh-keygen -F exits 1 when nothing matches.
          const want = spawnSync('ssh-keygen', ['-F', name, '-f', path], { encoding: 'utf8' })
            .stdout.split('\n')
            .flatMap((l) => /^# Host .* found: line (\d+)/.exec(l)?.[1] ?? [])
            .map(Number);
          const got = parsed.filter((e) => knownHostsFieldMatches(e.hosts, name)).map((e) => e.line);
          assert.deepEqual(got, want, `${name} in\n${text}`);
        }
      }),
      { numRuns: 25, seed: 31 },
    );
  });

  it('never throws on hostile text', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 400 }),
        fc.string({ maxLength: 40 }),
        (text, name) => {
          onlyHyperwardErrors(() => {
            for (const e of parseKnownHosts(text)) knownHostsFieldMatches(e.hosts, name);
            knownHostsFieldMatches(text, name);
            knownHostsFieldMatches(`|1|${text}|${name}`, name);
          });
        },
      ),
      { numRuns: 500, seed: 3 },
    );
    // A pattern built to make a backtracking matcher explode finishes at once.
    const t0 = performance.now();
    knownHostsFieldMatches(`${'*a'.repeat(400)}b`, 'a'.repeat(5000));
    assert.ok(performance.now() - t0 < 500);
  });
});

describe('connect + prefetch time', () => {
  it('reads a host-like tree (300 small files, 8 dirs, 4 MiB) quickly', async (t) => {
    const files = readdirSync(join(tree, 'many')).map((n) => join(tree, 'many', n));
    files.push(
      ...['hostname', 'os-release', 'libvirt/big', 'libvirt/chunks'].map((n) => join(tree, 'etc', n)),
    );
    const dirs = [join(tree, 'etc'), join(tree, 'many'), join(tree, 'etc', 'libvirt'), '/etc', '/usr/bin'];
    const t0 = performance.now();
    const root = await connect();
    const t1 = performance.now();
    const s = await root.prefetch(files, dirs);
    const t2 = performance.now();
    await root.close();
    assert.equal(s.filesRead, files.length);
    assert.equal(s.dirsListed, dirs.length);
    t.diagnostic(
      `connect ${(t1 - t0).toFixed(0)} ms; prefetch ${files.length} files (${s.bytes} bytes) + ${dirs.length} dirs ` +
        `${(t2 - t1).toFixed(0)} ms (includes opening the SFTP session)`,
    );
    assert.ok(t2 - t0 < 10_000);
  });
});
