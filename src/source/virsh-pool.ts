/**
 * The volumes of one libvirt storage pool, read through `virsh` on a read-only connection: `pool-dumpxml`,
 * `vol-list` and `vol-dumpxml`, nothing else. Volumes are addressed by path (libvirt's key for file and block
 * volumes), so names never reach an argument vector as an option.
 */
import { HyperwardError, isHyperwardError } from '../errors.js';
import { attr, childElement, parseXml, type XmlElement, type XmlLimits } from '../platform/xml.js';
import { localVirshExec, type VirshExec } from './virsh.js';

const POOL_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 32,
  maxElements: 10_000,
});

export interface PoolVolume {
  name: string;
  /** The volume's path (a file or block device for local pools). */
  path: string;
  /** libvirt's volume type: `file`, `block`, `dir`, `network`, `netdir`, `ploop`. */
  type: string;
  /** The format libvirt records (`qcow2`, `raw`...); Hyperward detects the format by content regardless. */
  format?: string;
  capacity?: number;
}

export interface PoolInventory {
  uri: string;
  pool: string;
  /** The pool's type (`dir`, `logical`, `fs`, `netfs`, `rbd`...). */
  type: string;
  /** The pool's target directory, when it has one. */
  target?: string;
  volumes: PoolVolume[];
  /** Volumes listed but not readable here, and why. */
  unreadable: Array<{ volume: string; message: string }>;
}

export interface PoolOptions {
  uri: string;
  pool: string;
  exec?: VirshExec;
  /** Most volumes read (default 10,000). */
  maxVolumes?: number;
}

const SAFE_NAME = /^[^\0\n\r]{1,1024}$/;

function element(xml: Buffer, file: string, local: string): XmlElement {
  const root = parseXml(xml, file, POOL_XML_LIMITS);
  if (root.local !== local) {
    throw new HyperwardError('E_UNSUPPORTED_FORMAT', `root element is <${root.name}>, not <${local}>`, {
      file,
      layer: 'virsh',
    });
  }
  return root;
}

/**
 * Reads the volumes of a storage pool.
 * @throws HyperwardError when the connection or the pool cannot be read; single volumes that cannot be read
 *   land in `unreadable`
 */
export async function readPool(opts: PoolOptions): Promise<PoolInventory> {
  const { uri, pool } = opts;
  if (!SAFE_NAME.test(uri) || uri.startsWith('-')) {
    throw new HyperwardError('E_USAGE', `invalid libvirt URI ${JSON.stringify(uri.slice(0, 100))}`);
  }
  if (remoteHost(uri) !== undefined) {
    throw new HyperwardError(
      'E_USAGE',
      `${uri} is a remote libvirt connection: its volumes are files of ${remoteHost(uri)}, not of this machine; run hyperward there`,
    );
  }
  if (!SAFE_NAME.test(pool) || pool.startsWith('-')) {
    throw new HyperwardError('E_USAGE', `invalid storage pool name ${JSON.stringify(pool.slice(0, 100))}`);
  }
  const exec = opts.exec ?? localVirshExec();
  const run = (...args: string[]): Promise<Buffer> =>
    exec(['--readonly', '--quiet', '--connect', uri, ...args]);
  const label = (...args: string[]): string => `virsh -c ${uri} ${args.join(' ')}`;
  const poolXml = element(await run('pool-dumpxml', '--pool', pool), label('pool-dumpxml', pool), 'pool');
  const target = childElement(childElement(poolXml, 'target') ?? poolXml, 'path')?.text.trim();
  const out: PoolInventory = {
    uri,
    pool,
    type: attr(poolXml, 'type') ?? 'unknown',
    volumes: [],
    unreadable: [],
  };
  if (target) out.target = target;
  const listing = (await run('vol-list', '--pool', pool)).toString('utf8');
  const paths = volumePaths(listing, target);
  out.unreadable.push(
    ...paths.unlisted.map((v) => ({ volume: v, message: 'no local path (network volume)' })),
  );
  const max = opts.maxVolumes ?? 10_000;
  if (paths.paths.length > max) {
    out.unreadable.push({
      volume: pool,
      message: `${paths.paths.length} volumes; only the first ${max} read`,
    });
  }
  for (const path of paths.paths.slice(0, max)) {
    try {
      const vol = element(await run('vol-dumpxml', '--vol', path), label('vol-dumpxml', path), 'volume');
      const t = childElement(vol, 'target');
      const v: PoolVolume = {
        name: childElement(vol, 'name')?.text.trim() ?? path,
        path: childElement(t ?? vol, 'path')?.text.trim() || path,
        type: attr(vol, 'type') ?? 'file',
      };
      const format = t ? childElement(t, 'format') : undefined;
      const f = format ? attr(format, 'type') : undefined;
      if (f !== undefined) v.format = f;
      const cap = Number(childElement(vol, 'capacity')?.text.trim());
      if (Number.isSafeInteger(cap)) v.capacity = cap;
      out.volumes.push(v);
    } catch (e) {
      if (!isHyperwardError(e)) throw e;
      out.unreadable.push({ volume: path, message: e.message });
    }
  }
  return out;
}

/**
 * The host of a libvirt URI that names one (`qemu+ssh://kvm01/system`, `qemu://kvm01/system`); undefined for a
 * local connection (`qemu:///system`, `test:///default`) and for text that is not a URI.
 */
export function remoteHost(uri: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(uri);
  if (!m) return undefined;
  const host = m[1]!.replace(/^[^@]*@/, '').replace(/:\d*$/, '');
  return host === '' || host === 'localhost' ? undefined : host;
}

/**
 * The volume paths of a `vol-list` table (`Name  Path` rows under a dashed rule). A path is told by the pool's
 * target directory when there is one (names may hold spaces), else by its leading `/`; rows without a local path
 * are returned by name in `unlisted`.
 */
export function volumePaths(listing: string, target?: string): { paths: string[]; unlisted: string[] } {
  const lines = listing.split('\n');
  const rule = lines.findIndex((l) => /^-{3,}\s*$/.test(l.trim()));
  const rows = (rule >= 0 ? lines.slice(rule + 1) : lines).filter((l) => l.trim() !== '');
  const paths: string[] = [];
  const unlisted: string[] = [];
  const prefix = target?.startsWith('/') ? ` ${target.replace(/\/+$/, '')}/` : undefined;
  for (const row of rows) {
    const at = prefix !== undefined ? row.indexOf(prefix) : -1;
    const i = at >= 0 ? at + 1 : row.search(/\s\/\S/) + 1;
    if (i > 0) paths.push(row.slice(i).trim());
    else unlisted.push(row.trim().split(/\s+/, 1)[0] ?? row.trim());
  }
  return { paths: [...new Set(paths)], unlisted };
}
