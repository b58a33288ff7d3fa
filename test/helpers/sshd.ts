import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { run, tempDir } from './tmp.js';

const SSHD = '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const START_TIMEOUT_MS = 10_000;

/** A host key the test server presents. */
export interface HostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, … */
  type: string;
  /** Base64 key blob as it stands in a `.pub` file and in known_hosts. */
  base64: string;
  /** Path of the `.pub` file (for `ssh-keygen -l` as a fingerprint oracle). */
  pubFile: string;
}

/** A real OpenSSH daemon on 127.0.0.1, in its own temporary directory. */
export interface TestSshd {
  port: number;
  /** The local user the daemon lets in (the user the tests run as). */
  user: string;
  /** Scratch directory holding the keys, config and log; removed by `stop`. */
  dir: string;
  hostKeys: HostKey[];
  /** An unencrypted ed25519 private key whose public half is in authorized_keys. */
  clientKey: string;
  /** `ssh://user@127.0.0.1:port`. */
  url: string;
  /** The daemon's log (`sshd -E`), for failure messages. */
  log(): string;
  /** Stops the daemon and removes its directory. */
  stop(): Promise<void>;
}

export interface SshdOptions {
  /**
   * Run the SFTP subsystem without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (via util-linux `setpriv`), so a
   * root login meets real permission checks over SFTP while `exec` keeps root's full rights — the situation the
   * `sudo` fallback exists for.
   */
  sftpWithoutDacOverride?: boolean;
  /**
   * The only SFTP requests the server accepts (`sftp-server -p`; names from `sftp-server -Q requests`), served in
   * read-only mode (`-R`). Default: the read-only set — so any write, rename or other request a client sends fails.
   */
  sftpRequests?: string[];
  /** Replaces the SFTP subsystem command entirely (e.g. a script playing a hostile server). */
  sftpCommand?: string;
}

/** SFTP requests a read-only client needs. */
export const READ_ONLY_SFTP_REQUESTS = [
  'open',
  'close',
  'read',
  'stat',
  'lstat',
  'fstat',
  'opendir',
  'readdir',
  'limits',
];

/** Fails with a clear message when OpenSSH's server or client is not installed. */
function requireTools(): void {
  const missing = [SSHD, SFTP_SERVER, '/usr/bin/ssh-keygen'].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')}: install openssh-server and openssh-client (scripts/system-deps.sh)`,
    );
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something on `port` sends an SSH identification string. */
function waitForBanner(port: number, deadline: number, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening`));
        return;
      }
      if (Date.now() > deadline) {
        reject(new Error('sshd did not answer in time'));
        return;
      }
      const sock = netConnect({ host: '127.0.0.1', port });
      let got = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => {
        got += d;
        if (got.startsWith('SSH-')) {
          sock.destroy();
          resolve();
        }
      });
      sock.on('error', () => {
        sock.destroy();
        setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

function genKey(dir: string, name: string, type: string): string {
  const path = join(dir, name);
  run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', path]);
  return path;
}

/**
 * Starts `sshd -D -f CONF` on 127.0.0.1 at a free port with fresh ed25519 and ECDSA host keys, a fresh client
 * key in its own authorized_keys, public-key authentication only and `StrictModes no`. Call `stop()` when done.
 */
export async function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
  requireTools();
  mkdirSync('/run/sshd', { recursive: true });
  const { dir, cleanup } = tempDir('hyperward-sshd-');
  try {
    const hostKeys: HostKey[] = [];
    for (const [name, type] of [
      ['host_ed25519', 'ed25519'],
      ['host_ecdsa', 'ecdsa'],
    ] as const) {
      const path = genKey(dir, name, type);
      const [keyType, base64] = readFileSync(`${path}.pub`, 'utf8').trim().split(/\s+/);
      hostKeys.push({ type: keyType!, base64: base64!, pubFile: `${path}.pub` });
    }
    const clientKey = genKey(dir, 'client_ed25519', 'ed25519');
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
    const requests = (opts.sftpRequests ?? READ_ONLY_SFTP_REQUESTS).join(',');
    const server = `${SFTP_SERVER} -R -p ${requests}`;
    const sftp = opts.sftpCommand
      ? opts.sftpCommand
      : opts.sftpWithoutDacOverride
        ? `/usr/bin/setpriv --bounding-set -dac_override,-dac_read_search ${server}`
        : server;
    const user = userInfo().username;
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const conf = join(dir, 'sshd_config');
      writeFileSync(
        conf,
        [
          'ListenAddress 127.0.0.1',
          `Port ${port}`,
          ...hostKeys.map((k) => `HostKey ${k.pubFile.slice(0, -4)}`),
          `PidFile ${join(dir, 'sshd.pid')}`,
          `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
          'StrictModes no',
          'UsePAM no',
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          `AllowUsers ${user}`,
          'MaxStartups 50',
          'MaxSessions 50',
          'LogLevel VERBOSE',
          `Subsystem sftp ${sftp}`,
          '',
        ].join('\n'),
      );
      const logFile = join(dir, 'sshd.log');
      writeFileSync(logFile, '');
      const child = spawn(SSHD, ['-D', '-f', conf, '-E', logFile], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await waitForBanner(port, Date.now() + START_TIMEOUT_MS, child);
      } catch (e) {
        child.kill('SIGTERM');
        await exited;
        const log = readFileSync(logFile, 'utf8');
        // Another process may have taken the port between probing and binding: try another.
        if (attempt < 3 && /Address already in use/.test(log)) continue;
        throw new Error(`${(e as Error).message}\n${log}`, { cause: e });
      }
      return {
        port,
        user,
        dir,
        hostKeys,
        clientKey,
        url: `ssh://${user}@127.0.0.1:${port}`,
        log: () => readFileSync(logFile, 'utf8'),
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
          cleanup();
        },
      };
    }
  } catch (e) {
    cleanup();
    throw e;
  }
}
