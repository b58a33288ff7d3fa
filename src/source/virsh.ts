/**
 * Reads libvirt domains, networks and network filters through `virsh` on a read-only connection: `list`,
 * `dumpxml`, `net-list`, `net-dumpxml`, `nwfilter-list`, `nwfilter-dumpxml` and nothing else. virsh runs via
 * execFile with an argument vector (never a shell), a timeout and an output cap per command. Objects are addressed
 * by UUID, so names never reach an argument vector.
 *
 * `dumpxml` without `--security-info` (refused on read-only connections anyway) omits graphics passwords, so the
 * domains it yields carry `passwordsRedacted: true`.
 */
import { execFile } from 'node:child_process';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { Unreadable } from '../model/host.js';
import type { LibvirtDomain, LibvirtNetwork, LibvirtNwFilter } from '../model/kvm.js';
import { parseDomainXml } from '../platform/libvirt/domain.js';
import { parseNetworkXml } from '../platform/libvirt/network.js';
import { parseNwFilterXml } from '../platform/libvirt/nwfilter.js';

/**
 * Runs virsh with these arguments (everything after the program name) and resolves with its standard output.
 * Rejects with a HyperwardError whose message carries virsh's error text. The default runs the local binary; an
 * SSH source can supply one that runs it remotely.
 */
export type VirshExec = (args: readonly string[]) => Promise<Buffer>;

export interface VirshOptions {
  /** The libvirt connection URI: `qemu:///system`, `test:///path/node.xml`... */
  uri: string;
  /** The virsh program for the default runner; default `virsh` from PATH. */
  binary?: string;
  /** Per command, default 30 s. */
  timeoutMs?: number;
  /** Per command, default 8 MiB of standard output. */
  maxOutputBytes?: number;
  /** Most domains, networks or filters read, each; default 10,000. */
  maxObjects?: number;
  /** virsh processes at once; default 4. */
  concurrency?: number;
  /** Replaces the local runner. */
  exec?: VirshExec;
}

export interface VirshInventory {
  uri: string;
  domains: LibvirtDomain[];
  networks: LibvirtNetwork[];
  /** undefined when the connection's driver has no network filter support (the test driver, for one). */
  nwfilters: LibvirtNwFilter[] | undefined;
  /** Objects that were listed but could not be read or parsed; the rest are still returned. */
  unreadable: Unreadable[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOT_SUPPORTED = /not supported by the connection driver|this function is not supported/i;

/**
 * The default runner: `binary` via execFile (no shell), `LC_ALL=C`, with a timeout and an output cap.
 *
 * @param binary the virsh program
 * @param timeoutMs kills the command after this long
 * @param maxOutputBytes largest standard output (and error) accepted
 */
export function localVirshExec(
  binary = 'virsh',
  timeoutMs = 30_000,
  maxOutputBytes = 8 * 1024 * 1024,
): VirshExec {
  return (args) =>
    new Promise<Buffer>((resolve, reject) => {
      const where = { file: `${binary} ${args.join(' ')}`.slice(0, 300), layer: 'virsh' };
      execFile(
        binary,
        [...args],
        {
          encoding: 'buffer',
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: maxOutputBytes,
          windowsHide: true,
          env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        },
        (err, stdout, stderr) => {
          if (!err) {
            resolve(stdout);
            return;
          }
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
          const errText = stderr.toString('utf8').trim().split('\n').slice(-2).join(' ').slice(0, 500);
          if (e.code === 'ENOENT') {
            reject(
              new HyperwardError(
                'E_NOT_FOUND',
                `${binary} not found (install the libvirt-clients package)`,
                where,
                { cause: err },
              ),
            );
          } else if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
            reject(
              new HyperwardError('E_LIMIT', `output exceeds the ${maxOutputBytes}-byte cap`, where, {
                cause: err,
              }),
            );
          } else if (e.killed || e.signal) {
            reject(
              new HyperwardError(
                'E_IO',
                `timed out or killed after ${timeoutMs} ms (${e.signal ?? 'killed'})`,
                where,
                {
                  cause: err,
                },
              ),
            );
          } else {
            reject(new HyperwardError('E_IO', `failed: ${errText || err.message}`, where, { cause: err }));
          }
        },
      );
    });
}

/**
 * Lists and reads every domain, network and network filter of one libvirt connection, read-only.
 *
 * @throws HyperwardError when the connection itself fails (virsh missing, URI unreachable, domain listing fails);
 *   failures of single objects land in `unreadable`
 */
export async function readVirsh(opts: VirshOptions): Promise<VirshInventory> {
  const uri = opts.uri;
  if (uri.length === 0 || uri.length > 1024 || uri.startsWith('-') || /[\0\n\r]/.test(uri)) {
    throw new HyperwardError('E_USAGE', `invalid libvirt URI ${JSON.stringify(uri.slice(0, 100))}`);
  }
  const exec = opts.exec ?? localVirshExec(opts.binary, opts.timeoutMs, opts.maxOutputBytes);
  const maxObjects = opts.maxObjects ?? 10_000;
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 4, 32));
  const base = ['--readonly', '--quiet', '--connect', uri];
  const run = (...args: string[]): Promise<Buffer> => exec([...base, ...args]);
  const label = (...args: string[]): string => `virsh -c ${uri} ${args.join(' ')}`;
  const out: VirshInventory = { uri, domains: [], networks: [], nwfilters: undefined, unreadable: [] };

  const capped = (ids: string[], what: string): string[] => {
    if (ids.length <= maxObjects) return ids;
    out.unreadable.push({
      file: label(what),
      code: 'E_LIMIT',
      message: `${ids.length} objects listed; only the first ${maxObjects} were read`,
    });
    return ids.slice(0, maxObjects);
  };

  // Domains: a failure here means the connection does not work, which fails the whole source.
  const domainIds = capped(uuidLines(await run('list', '--all', '--uuid')), 'list');
  out.domains = await readEach(
    domainIds,
    concurrency,
    out.unreadable,
    async (id) => {
      const file = label('dumpxml', id);
      const dom = parseDomainXml(await run('dumpxml', '--domain', id), file);
      dom.passwordsRedacted = true;
      return dom;
    },
    (id) => label('dumpxml', id),
  );

  let networkIds: string[] | undefined;
  try {
    networkIds = capped(uuidLines(await run('net-list', '--all', '--uuid')), 'net-list');
  } catch (e) {
    if (!isHyperwardError(e) || !NOT_SUPPORTED.test(e.message))
      out.unreadable.push(toUnreadable(label('net-list'), e));
  }
  if (networkIds) {
    out.networks = await readEach(
      networkIds,
      concurrency,
      out.unreadable,
      async (id) => parseNetworkXml(await run('net-dumpxml', '--network', id), label('net-dumpxml', id)),
      (id) => label('net-dumpxml', id),
    );
  }

  let filterIds: string[] | undefined;
  try {
    filterIds = capped(nwfilterListUuids((await run('nwfilter-list')).toString('utf8')), 'nwfilter-list');
  } catch (e) {
    if (!isHyperwardError(e) || !NOT_SUPPORTED.test(e.message))
      out.unreadable.push(toUnreadable(label('nwfilter-list'), e));
  }
  if (filterIds) {
    out.nwfilters = await readEach(
      filterIds,
      concurrency,
      out.unreadable,
      async (id) =>
        parseNwFilterXml(await run('nwfilter-dumpxml', '--nwfilter', id), label('nwfilter-dumpxml', id)),
      (id) => label('nwfilter-dumpxml', id),
    );
  }
  return out;
}

/** UUIDs printed one per line (`list --uuid`, `net-list --uuid`); anything else is ignored. */
function uuidLines(stdout: Buffer): string[] {
  const ids: string[] = [];
  for (const line of stdout.toString('utf8').split('\n')) {
    const t = line.trim();
    if (UUID.test(t)) ids.push(t.toLowerCase());
  }
  return [...new Set(ids)];
}

/** `nwfilter-list` prints a table `UUID  Name`; the first column of each data row is the UUID. */
export function nwfilterListUuids(stdout: string): string[] {
  const ids: string[] = [];
  for (const line of stdout.split('\n')) {
    const first = line.trim().split(/\s+/, 1)[0] ?? '';
    if (UUID.test(first)) ids.push(first.toLowerCase());
  }
  return [...new Set(ids)];
}

function toUnreadable(file: string, e: unknown): Unreadable {
  if (isHyperwardError(e)) return { file, code: e.code, message: e.message };
  return { file, code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** Runs `read` over `ids` with at most `concurrency` at once; failures become unreadable entries, order is kept. */
async function readEach<T>(
  ids: readonly string[],
  concurrency: number,
  unreadable: Unreadable[],
  read: (id: string) => Promise<T>,
  labelOf: (id: string) => string,
): Promise<T[]> {
  const results: Array<T | undefined> = new Array<T | undefined>(ids.length);
  const failures: Array<Unreadable | undefined> = new Array<Unreadable | undefined>(ids.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const i = next++;
      const id = ids[i]!;
      try {
        results[i] = await read(id);
      } catch (e) {
        failures[i] = toUnreadable(labelOf(id), e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  for (const f of failures) if (f) unreadable.push(f);
  return results.filter((r): r is T => r !== undefined);
}
