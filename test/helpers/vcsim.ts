/**
 * govmomi's vSphere simulator for tests: the binaries scripts/vcsim.sh builds, and a simulator started on a free
 * loopback port with a certificate the test made.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const USER = 'auditor';
export const PASS = 'S3cret&<pass>';

/** The binaries scripts/vcsim.sh caches; a missing build is a failure, never a skip. */
export function findSimulator(): { vcsim: string; govc: string } {
  const base = join(ROOT, '.cache/vcsim/bin');
  const dirs = existsSync(base) ? readdirSync(base).sort() : [];
  for (const d of dirs.reverse()) {
    const vcsim = join(base, d, 'vcsim');
    const govc = join(base, d, 'govc');
    if (existsSync(vcsim) && existsSync(govc) && statSync(vcsim).mode & 0o111) return { vcsim, govc };
  }
  throw new Error(
    `vcsim and govc are not built (looked in ${base}): run \`bash scripts/vcsim.sh\` (as root the first time; ` +
      '`npm test` runs it)',
  );
}

export interface Sim {
  proc: ChildProcess;
  port: number;
  /** `vsphere://127.0.0.1:PORT`, as the inventory names the source. */
  endpoint: string;
  govcEnv: NodeJS.ProcessEnv;
}

export function startVcsim(bin: string, args: string[], tmp: string, ca: string): Promise<Sim> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['-l', '127.0.0.1:0', '-username', USER, '-password', PASS, ...args], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGTERM');
      reject(new Error(`vcsim did not start in 30 s: ${err}`));
    }, 30_000);
    proc.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /GOVC_URL=(https:\/\/\S+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      const u = new URL(m[1]!);
      resolve({
        proc,
        port: Number(u.port),
        endpoint: `vsphere://127.0.0.1:${u.port}`,
        govcEnv: { ...process.env, GOVC_URL: m[1]!, GOVC_TLS_CA_CERTS: ca, GOVC_INSECURE: 'false' },
      });
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vcsim exited (${code}) before serving: ${err}`));
    });
  });
}

export function stop(sim: Sim | undefined): Promise<void> {
  if (sim === undefined || sim.proc.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    sim.proc.once('exit', () => resolve());
    sim.proc.kill('SIGTERM');
  });
}
