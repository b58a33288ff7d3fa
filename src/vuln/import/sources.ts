/**
 * Where advisory documents come from: a file, a directory walked recursively, or a zip archive (osv.dev's
 * `all.zip` per ecosystem). Yields one document's text at a time so an import never holds more than one file.
 *
 * All of it is hostile input: directories are walked without following symlinks out of the directory the user
 * named, with a cap on files and depth; archives are read with caps on entries, on each member's and on all
 * members' uncompressed size and on the compression ratio (zip bombs), and members named with `..` or an
 * absolute path are refused. Each problem is one `ImportIssue`; the walk goes on.
 */
import { open, opendir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import yauzl from 'yauzl';
import { HyperwardError } from '../../errors.js';
import type { IssueSink } from './osv.js';

/** Caps on what one named input may make the importer read. */
export interface SourceLimits {
  /** Documents per named input: files of a directory walk, members of an archive. */
  maxFiles: number;
  /** One file or archive member, uncompressed (the whole Debian tracker dump is one file). */
  maxFileBytes: number;
  /** All members of one archive, uncompressed. */
  maxArchiveBytes: number;
  /** Uncompressed / compressed size of a member larger than 64 KiB. */
  maxRatio: number;
  /** Directory nesting below the named directory. */
  maxDepth: number;
}

export const DEFAULT_SOURCE_LIMITS: SourceLimits = {
  maxFiles: 2_000_000,
  maxFileBytes: 512 * 1024 * 1024,
  maxArchiveBytes: 16 * 1024 * 1024 * 1024,
  maxRatio: 200,
  maxDepth: 32,
};

/** Members smaller than this are not judged by their compression ratio (tiny files compress oddly). */
const RATIO_FLOOR = 64 * 1024;

/** One document: its display name (`dir/file.json`, `archive.zip!member.json`) and its text. */
export interface SourceDocument {
  name: string;
  text: string;
}

/** Whether `name` is one the walk reads inside a directory or an archive. */
function wanted(name: string): 'json' | 'zip' | undefined {
  const n = name.toLowerCase();
  return n.endsWith('.json') ? 'json' : n.endsWith('.zip') ? 'zip' : undefined;
}

function message(e: unknown): string {
  if (e instanceof HyperwardError) return e.message;
  const code = (e as { code?: unknown } | null)?.code;
  const m = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !m.includes(code) ? `${code}: ${m}` : m;
}

/** UTF-8 text of `buf`, without a byte-order mark. */
function decode(buf: Buffer): string {
  const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  return buf.toString('utf8', start);
}

/** Reads a file of at most `max` bytes (checked on the open descriptor), or reports why not. */
async function readBounded(path: string, max: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new HyperwardError('E_USAGE', 'not a regular file', { file: path });
    if (st.size > max) {
      throw new HyperwardError('E_LIMIT', `${st.size} bytes exceeds the ${max}-byte limit for one file`, {
        file: path,
      });
    }
    // Read what is there now, up to one byte past the cap, in case the file grew after the stat.
    const buf = Buffer.alloc(Math.min(st.size + 1, max + 1));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > max) {
      throw new HyperwardError('E_LIMIT', `grew past the ${max}-byte limit for one file while read`, {
        file: path,
      });
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    // Local file header, or the end-of-central-directory record of an empty archive.
    return (
      bytesRead === 4 &&
      b[0] === 0x50 &&
      b[1] === 0x4b &&
      ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6))
    );
  } finally {
    await fh.close();
  }
}

/**
 * The documents of one named input, one at a time. A named path that does not exist throws; everything that goes
 * wrong below it is pushed to `issues` and skipped.
 * @throws HyperwardError `E_NOT_FOUND` when `input` does not exist, `E_USAGE` when it is neither a file nor a
 * directory.
 */
export async function* readInput(
  input: string,
  issues: IssueSink,
  limits: SourceLimits = DEFAULT_SOURCE_LIMITS,
): AsyncGenerator<SourceDocument> {
  let st;
  try {
    st = await stat(input);
  } catch (e) {
    throw new HyperwardError('E_NOT_FOUND', `cannot read: ${message(e)}`, { file: input }, { cause: e });
  }
  if (st.isDirectory()) {
    yield* walkDirectory(input, issues, limits);
  } else if (st.isFile()) {
    let zip: boolean;
    try {
      zip = await isZip(input);
    } catch (e) {
      issues.push({ file: input, message: `cannot read: ${message(e)}` });
      return;
    }
    if (zip) yield* readZip(input, issues, limits);
    else {
      const doc = await readFileDocument(input, issues, limits);
      if (doc) yield doc;
    }
  } else {
    throw new HyperwardError('E_USAGE', 'not a file, directory or zip archive', { file: input });
  }
}

async function readFileDocument(
  path: string,
  issues: IssueSink,
  limits: SourceLimits,
): Promise<SourceDocument | undefined> {
  try {
    return { name: path, text: decode(await readBounded(path, limits.maxFileBytes)) };
  } catch (e) {
    issues.push({ file: path, message: message(e).replace(`${path}: `, '') });
    return undefined;
  }
}

/** Walks `root` depth first, reading `*.json` files and `*.zip` archives; symlinks are followed only inside it. */
async function* walkDirectory(
  root: string,
  issues: IssueSink,
  limits: SourceLimits,
): AsyncGenerator<SourceDocument> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (e) {
    issues.push({ file: root, message: `cannot read: ${message(e)}` });
    return;
  }
  const inside = (p: string): boolean =>
    p === rootReal || p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
  const visited = new Set<string>([rootReal]);
  const stack: Array<{ path: string; depth: number }> = [{ path: root, depth: 0 }];
  let seen = 0;
  while (stack.length > 0) {
    const { path: dirPath, depth } = stack.pop()!;
    let dir;
    try {
      dir = await opendir(dirPath);
    } catch (e) {
      issues.push({ file: dirPath, message: `cannot read the directory: ${message(e)}` });
      continue;
    }
    try {
      for await (const ent of dir) {
        if (++seen > limits.maxFiles) {
          issues.push({ file: root, message: `more than ${limits.maxFiles} entries; the rest is skipped` });
          return;
        }
        const p = join(dirPath, ent.name);
        let isDir = ent.isDirectory();
        let isFile = ent.isFile();
        if (ent.isSymbolicLink()) {
          let target: string;
          try {
            target = await realpath(p);
          } catch (e) {
            issues.push({ file: p, message: `dangling symlink: ${message(e)}` });
            continue;
          }
          if (!inside(target)) {
            issues.push({ file: p, message: `symlink leads outside ${root}; not followed` });
            continue;
          }
          try {
            const ts = await stat(target);
            isDir = ts.isDirectory();
            isFile = ts.isFile();
          } catch (e) {
            issues.push({ file: p, message: `cannot read: ${message(e)}` });
            continue;
          }
          if (isDir) {
            if (visited.has(target)) continue; // a loop, or a second way to the same directory
            visited.add(target);
          }
        }
        if (isDir) {
          if (depth + 1 > limits.maxDepth) {
            issues.push({ file: p, message: `deeper than ${limits.maxDepth} directories; skipped` });
          } else {
            stack.push({ path: p, depth: depth + 1 });
          }
          continue;
        }
        if (!isFile) continue;
        const kind = wanted(ent.name);
        if (kind === 'zip') yield* readZip(p, issues, limits);
        else if (kind === 'json') {
          const doc = await readFileDocument(p, issues, limits);
          if (doc) yield doc;
        }
      }
    } finally {
      await dir.close().catch(() => undefined);
    }
  }
}

/** Reads one member's data within the caps. */
async function readMember(zip: yauzl.ZipFile, entry: yauzl.Entry, max: number): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > max || total > entry.uncompressedSize) {
        throw new HyperwardError('E_LIMIT', `inflates past ${Math.min(max, entry.uncompressedSize)} bytes`);
      }
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}

/** The `*.json` members of one zip archive, one at a time, within the caps. */
async function* readZip(
  path: string,
  issues: IssueSink,
  limits: SourceLimits,
): AsyncGenerator<SourceDocument> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, {
      lazyEntries: true,
      decodeStrings: false,
      validateEntrySizes: true,
      autoClose: false,
    });
  } catch (e) {
    issues.push({ file: path, message: `not a readable zip archive: ${message(e)}` });
    return;
  }
  let members = 0;
  let total = 0;
  try {
    for await (const entry of zip.eachEntry()) {
      const name = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        false,
      );
      // eslint-disable-next-line no-control-regex
      const shown = `${path}!${name.replace(/[\u0000-\u001f\u007f]/g, '?')}`;
      const bad = yauzl.validateFileName(name);
      if (bad !== null) {
        issues.push({ file: shown, message: `refused archive member (${bad})` });
        continue;
      }
      if (name.endsWith('/') || wanted(name) !== 'json') continue;
      if (++members > limits.maxFiles) {
        issues.push({ file: path, message: `more than ${limits.maxFiles} members; the rest is skipped` });
        break;
      }
      if (entry.isEncrypted() || !entry.canDecodeFileData()) {
        issues.push({
          file: shown,
          message: `encrypted or compressed with unsupported method ${entry.compressionMethod}`,
        });
        continue;
      }
      const size = entry.uncompressedSize;
      if (size > limits.maxFileBytes) {
        issues.push({
          file: shown,
          message: `${size} bytes uncompressed exceeds the ${limits.maxFileBytes}-byte limit`,
        });
        continue;
      }
      if (size > RATIO_FLOOR && size > entry.compressedSize * limits.maxRatio) {
        issues.push({
          file: shown,
          message: `compression ratio over ${limits.maxRatio}:1 (${entry.compressedSize} → ${size} bytes): refused as a zip bomb`,
        });
        continue;
      }
      if (total + size > limits.maxArchiveBytes) {
        issues.push({
          file: path,
          message: `members add up to more than ${limits.maxArchiveBytes} bytes; the rest is skipped`,
        });
        break;
      }
      let data: Buffer;
      try {
        data = await readMember(zip, entry, limits.maxFileBytes);
      } catch (e) {
        issues.push({ file: shown, message: `cannot read the member: ${message(e)}` });
        continue;
      }
      total += data.length;
      let text: string;
      try {
        text = decode(data);
      } catch (e) {
        issues.push({ file: shown, message: message(e) });
        continue;
      }
      yield { name: shown, text };
    }
  } catch (e) {
    issues.push({ file: path, message: `damaged zip archive, the rest is skipped: ${message(e)}` });
  } finally {
    zip.close();
  }
}
