import { HyperwardError } from '../errors.js';
import type { RootReader } from '../inspect/system.js';
import type { HostInventory } from '../model/host.js';
import { openSsh, type SshOptions } from '../source/ssh.js';
import { inventoryFromRoot } from './assess.js';

const MAX_ROUNDS = 8;
/** What a reader gets when it names no cap (the RootReader default). */
const DEFAULT_CAP = 64 * 1024 * 1024;

/**
 * A host's inventory over SSH, with the same readers as a local directory. The readers are synchronous and
 * pure, so they are run over what has been fetched so far; every path they asked for that was not fetched is
 * fetched in one batch over SFTP, and they run again — until nothing new is asked for (directories, then the
 * files in them, then drop-ins: three or four rounds).
 */
export async function inventoryOverSsh(url: string, opts: SshOptions): Promise<HostInventory> {
  const ssh = await openSsh(url, opts);
  try {
    const pve = await ssh.run('pveversion', ['-v']).catch(() => undefined);
    const pveversion = pve && pve.exitCode === 0 ? pve.stdout.toString('utf8') : undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const snap = ssh.snapshot();
      // Each path with the largest size cap a reader asked for it, so a file read only for a prefix (a hook
      // script) is never downloaded whole.
      const files = new Map<string, number>();
      const dirs = new Set<string>();
      const recorder: RootReader = {
        tryReadFile(path, maxBytes) {
          if (snap.file(path) === undefined)
            files.set(path, Math.max(files.get(path) ?? 0, maxBytes ?? DEFAULT_CAP));
          return snap.tryReadFile(path, maxBytes);
        },
        list(path) {
          if (snap.dir(path) === undefined) dirs.add(path);
          return snap.list(path);
        },
      };
      const inv = inventoryFromRoot(
        recorder,
        url,
        ssh.target.host,
        pveversion === undefined ? {} : { pveversion },
      );
      if (files.size === 0 && dirs.size === 0) {
        for (const p of snap.problems())
          inv.unreadable.push({ file: p.path, code: p.code, message: p.message });
        return inv;
      }
      const byCap = new Map<number, string[]>();
      for (const [path, cap] of files) byCap.set(cap, [...(byCap.get(cap) ?? []), path]);
      if (byCap.size === 0) await ssh.prefetch([], [...dirs]);
      let first = true;
      for (const [cap, paths] of byCap) {
        await ssh.prefetch(paths, first ? [...dirs] : [], { maxBytes: cap });
        first = false;
      }
    }
    throw new HyperwardError(
      'E_LIMIT',
      `the host's files were still being discovered after ${MAX_ROUNDS} rounds`,
      {
        file: url,
      },
    );
  } finally {
    await ssh.close();
  }
}
