/**
 * A bounded, read-only index of a tar archive: ustar, GNU (long names `L`/`K`, base-256 numbers) and POSIX pax
 * (`x` and `g` extended headers: `path`, `linkpath`, `size`, `uid`, `gid`, `mtime`, `uname`, `gname`).
 *
 * Nothing is extracted and nothing is written: each member is described by where its bytes lie in the archive, so
 * a caller reads a member in place (an OVA's disks are gigabytes; unpacking them to hash or scan them is exactly
 * what this avoids). The archive is assumed hostile: every header checksum is verified, the member count, name
 * length and pax header size are capped, and a damaged header ends the index with a problem recorded rather than
 * a guess at where the next header might be. The members read before the damage are kept.
 */
import { HyperwardError } from '../errors.js';

/** Anything the index can read from: a `FileSource`, a `BlockDevice`, or a buffer wrapped for a test. */
export interface TarByteSource {
  readonly size: number;
  read(offset: number, length: number, layer?: string): Buffer;
}

export const TAR_BLOCK = 512;

export type TarEntryType =
  'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo' | 'sparse' | 'other';

/** One member: its metadata and where its bytes are in the archive. */
export interface TarMember {
  /** The name as stored: pax `path`, else GNU long name, else ustar `prefix/name`, else `name`. Not normalised. */
  name: string;
  type: TarEntryType;
  /** The raw type flag (`0`, `5`, `S`...); `\0` for old-style regular files. */
  typeflag: string;
  /** Bytes of data stored in the archive for this member (pax `size` wins over the header). */
  size: number;
  /**
   * Offset in the archive of the member's first stored data byte. For a `sparse` member the stored bytes are not the
   * file's bytes (holes are left out, and pax 1.0 puts the sparse map first): it cannot be read as a plain range.
   */
  dataOffset: number;
  /** Offset of the first header that belongs to the member (its pax or GNU long-name headers included). */
  headerOffset: number;
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, seconds since the epoch (fractional with pax). */
  mtime: number;
  linkName?: string;
  uname?: string;
  gname?: string;
  /** Which header style described it. */
  format: 'ustar' | 'gnu' | 'v7';
  /** True when pax extended headers applied to it. */
  pax: boolean;
}

/** Something wrong in the archive, at a byte offset; the index says whether it went on past it. */
export interface TarProblem {
  offset: number;
  message: string;
}

export interface TarIndex {
  members: TarMember[];
  problems: TarProblem[];
  /** True when the index reached the end-of-archive marker (or the end of the file on a header boundary). */
  complete: boolean;
}

export interface TarLimits {
  /** Most members indexed (extension headers do not count). */
  maxMembers: number;
  /** Longest member or link name, in bytes. */
  maxNameBytes: number;
  /** Largest pax extended header (`x` or `g`) read. */
  maxPaxBytes: number;
  /** Most records in one pax header. */
  maxPaxRecords: number;
}

export const DEFAULT_TAR_LIMITS: Readonly<TarLimits> = Object.freeze({
  maxMembers: 10_000,
  maxNameBytes: 4096,
  maxPaxBytes: 1024 * 1024,
  maxPaxRecords: 1000,
});

/** The header fields the index uses, decoded from one 512-byte block. */
export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkName: string;
  magic: 'ustar' | 'gnu' | 'v7';
  uname: string;
  gname: string;
  prefix: string;
}

/** Bytes up to the first NUL (or the whole field), decoded as UTF-8 with replacement characters. */
function cString(block: Buffer, at: number, len: number): string {
  const field = block.subarray(at, at + len);
  const nul = field.indexOf(0);
  return (nul === -1 ? field : field.subarray(0, nul)).toString('utf8');
}

/**
 * A numeric header field: octal digits (leading spaces or NULs allowed, ended by space or NUL), or GNU base-256
 * (first byte with its high bit set; two's complement when the next bit is set too). Returns undefined for a field
 * that is neither, or a value that is not a safe integer.
 */
export function parseTarNumber(field: Uint8Array): number | undefined {
  if (field.length === 0) return undefined;
  const first = field[0]!;
  if (first & 0x80) {
    // Base-256: the first byte's low 7 bits (or, when negative, the whole field in two's complement).
    const negative = (first & 0x40) !== 0;
    let v = 0n;
    for (let i = 0; i < field.length; i++) {
      const b = i === 0 ? first & 0x7f : field[i]!;
      v = (v << 8n) | BigInt(b);
    }
    if (negative) v -= 1n << BigInt(field.length * 8 - 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
    return Number(v);
  }
  let i = 0;
  while (i < field.length && (field[i] === 0x20 || field[i] === 0)) i++;
  if (i === field.length) return 0; // an all-blank field reads as 0, as tar does
  let v = 0;
  let digits = 0;
  for (; i < field.length; i++) {
    const c = field[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return undefined;
    v = v * 8 + (c - 0x30);
    if (++digits > 21) return undefined;
  }
  // Anything after the terminator must be terminators too.
  for (; i < field.length; i++) if (field[i] !== 0x20 && field[i] !== 0) return undefined;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** True when the block's stored checksum matches (unsigned sum, or the signed sum some old tars wrote). */
export function tarChecksumOk(block: Uint8Array): boolean {
  if (block.length < TAR_BLOCK) return false;
  const stored = parseTarNumber(block.subarray(148, 156));
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** True when the block is all zeros (half of the end-of-archive marker). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** True when `head` (the first 512 bytes of a file) is a tar header with a valid checksum. */
export function looksLikeTar(head: Uint8Array): boolean {
  return head.length >= TAR_BLOCK && !isZeroBlock(head.subarray(0, TAR_BLOCK)) && tarChecksumOk(head);
}

/**
 * Decodes one header block. Returns a reason string instead when the block is not a valid header (bad checksum,
 * unreadable size), so the caller can record it at the right offset.
 */
export function parseTarHeader(block: Buffer): TarHeader | string {
  if (!tarChecksumOk(block)) return 'header checksum mismatch (damaged archive, or not a tar archive)';
  const size = parseTarNumber(block.subarray(124, 136));
  if (size === undefined || size < 0) return 'header size field is not a valid number';
  const magicField = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  const magic: TarHeader['magic'] =
    magicField === 'ustar\0' ? 'ustar' : magicField === 'ustar ' && version === ' \0' ? 'gnu' : 'v7';
  return {
    name: cString(block, 0, 100),
    mode: parseTarNumber(block.subarray(100, 108)) ?? 0,
    uid: parseTarNumber(block.subarray(108, 116)) ?? 0,
    gid: parseTarNumber(block.subarray(116, 124)) ?? 0,
    size,
    mtime: parseTarNumber(block.subarray(136, 148)) ?? 0,
    typeflag: String.fromCharCode(block[156]!),
    linkName: cString(block, 157, 100),
    magic,
    uname: magic === 'v7' ? '' : cString(block, 265, 32),
    gname: magic === 'v7' ? '' : cString(block, 297, 32),
    // Only POSIX ustar has a name prefix; old GNU headers keep access/change times there.
    prefix: magic === 'ustar' ? cString(block, 345, 155) : '',
  };
}

/** One pax record set: key → value. An empty value deletes the key (POSIX), kept here as ''. */
export type PaxRecords = Map<string, string>;

/**
 * Parses the records of a pax extended header: `"%d %s=%s\n"`, where the length counts the whole record. Returns
 * the records read and, when one is malformed, why (the rest cannot be found once a length is wrong).
 */
export function parsePaxRecords(
  data: Buffer,
  maxRecords: number = DEFAULT_TAR_LIMITS.maxPaxRecords,
): { records: PaxRecords; error?: string } {
  const records: PaxRecords = new Map();
  let pos = 0;
  let count = 0;
  while (pos < data.length) {
    // Padding NULs after the last record are tolerated.
    if (data[pos] === 0) break;
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20 || space === pos) {
      return { records, error: `pax record at ${pos} has no length` };
    }
    const lenText = data.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) return { records, error: `pax record at ${pos} has a bad length` };
    const len = Number(lenText);
    if (!Number.isSafeInteger(len) || len <= space - pos + 1 || pos + len > data.length) {
      return { records, error: `pax record at ${pos} has a length (${lenText}) outside the header` };
    }
    if (data[pos + len - 1] !== 0x0a)
      return { records, error: `pax record at ${pos} is not ended by a newline` };
    const body = data.subarray(space + 1, pos + len - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) return { records, error: `pax record at ${pos} has no key=value` };
    if (++count > maxRecords) return { records, error: `more than ${maxRecords} pax records` };
    const key = body.toString('utf8', 0, eq);
    const value = body.toString('utf8', eq + 1);
    records.set(key, value);
    pos += len;
  }
  return { records };
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7': // contiguous file: a regular file everywhere that matters
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'chardev';
    case '4':
      return 'blockdev';
    case '5':
      return 'dir';
    case '6':
      return 'fifo';
    case 'S':
      return 'sparse';
    default:
      return 'other';
  }
}

/** Hard links, symlinks and the like store no data even when the header's size field says otherwise. */
function hasData(flag: string): boolean {
  return !(flag === '1' || flag === '2' || flag === '3' || flag === '4' || flag === '5' || flag === '6');
}

function paxNumber(records: PaxRecords, key: string, integer: boolean): number | undefined {
  const v = records.get(key);
  if (v === undefined || v === '') return undefined;
  if (integer ? !/^[0-9]{1,16}$/.test(v) : !/^-?[0-9]{1,16}(\.[0-9]{1,9})?$/.test(v)) return undefined;
  const n = Number(v);
  return integer ? (Number.isSafeInteger(n) ? n : undefined) : Number.isFinite(n) ? n : undefined;
}

function paxString(local: PaxRecords, global: PaxRecords, key: string): string | undefined {
  const v = local.has(key) ? local.get(key) : global.get(key);
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Indexes every member of a tar archive without extracting anything.
 *
 * Stops at the end-of-archive marker, at the end of the file on a header boundary, or at the first damage (a bad
 * checksum, a size that runs past the end of the file, a cap reached), which is recorded in `problems` with
 * `complete` false. A member whose GNU long name or pax header could not be used (too long, malformed) is skipped
 * with a problem rather than indexed under a wrong name. Throws only when the very first block is not a tar header.
 *
 * @param src what to read (a `FileSource` of the archive)
 * @param file names the archive in errors
 * @throws HyperwardError E_UNSUPPORTED_FORMAT when the archive does not start with a valid tar header
 *
 * @example
 * const src = new FileSource('appliance.ova');
 * const { members } = indexTar(src, src.path);
 * const ovf = members.find((m) => m.name.endsWith('.ovf'));
 * if (ovf) console.log(src.read(ovf.dataOffset, ovf.size).toString('utf8'));
 */
export function indexTar(src: TarByteSource, file: string, limits: Partial<TarLimits> = {}): TarIndex {
  const lim: TarLimits = { ...DEFAULT_TAR_LIMITS, ...limits };
  const members: TarMember[] = [];
  const problems: TarProblem[] = [];
  const global: PaxRecords = new Map();
  let local: PaxRecords = new Map();
  let longName: string | undefined;
  let longLink: string | undefined;
  /** Offset of the first extension header of the member being assembled. */
  let pendingStart: number | undefined;
  /** The next real member lost its long name or pax header: skip it rather than index it under a wrong name. */
  let skipNext: string | undefined;
  // Every header consumes at least one block, so this bounds the loop whatever the archive holds.
  let headersLeft = lim.maxMembers * 8 + 16;
  let offset = 0;

  const stop = (at: number, message: string): TarIndex => {
    problems.push({ offset: at, message });
    return { members, problems, complete: false };
  };

  while (true) {
    if (offset === src.size) {
      // Ended on a header boundary without the marker: tolerated (GNU tar warns), the members are all there.
      if (offset === 0) throw notTar(file, 'the file is empty');
      problems.push({ offset, message: 'no end-of-archive marker (archive ends without two zero blocks)' });
      break;
    }
    if (offset + TAR_BLOCK > src.size) return stop(offset, 'the archive ends inside a header (truncated)');
    if (--headersLeft < 0) return stop(offset, 'too many headers');
    const block = src.read(offset, TAR_BLOCK, 'tar header');
    if (isZeroBlock(block)) {
      if (offset === 0) throw notTar(file, 'the first block is all zeros');
      const next = offset + TAR_BLOCK;
      if (next + TAR_BLOCK > src.size || isZeroBlock(src.read(next, TAR_BLOCK, 'tar end marker'))) {
        if (next + TAR_BLOCK > src.size) {
          problems.push({ offset, message: 'only one zero block at the end (end marker truncated)' });
        }
        break;
      }
      problems.push({ offset, message: 'lone zero block inside the archive (skipped)' });
      offset = next;
      continue;
    }
    const h = parseTarHeader(block);
    if (typeof h === 'string') {
      if (offset === 0) throw notTar(file, h);
      return stop(offset, h);
    }
    let dataOffset = offset + TAR_BLOCK;
    if (h.typeflag === 'S' && block[482] !== 0) {
      // Old GNU sparse: more sparse-map blocks follow the header (each says whether another follows, at 504).
      let more = true;
      while (more) {
        if (dataOffset + TAR_BLOCK > src.size)
          return stop(offset, 'sparse map runs past the end of the archive');
        if (--headersLeft < 0) return stop(offset, 'too many headers');
        more = src.read(dataOffset, TAR_BLOCK, 'GNU sparse map')[504] !== 0;
        dataOffset += TAR_BLOCK;
      }
    }
    const flag = h.typeflag;
    const isExtension = flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K';
    // pax `size` overrides the header for the member it describes (members larger than 8 GiB need it).
    let size = h.size;
    if (!isExtension) {
      const stated = local.has('size') ? local.get('size') : global.get('size');
      const paxSize =
        stated === undefined || stated === ''
          ? undefined
          : paxNumber(new Map([['size', stated]]), 'size', true);
      if (stated !== undefined && stated !== '' && paxSize === undefined) {
        // Without a trustworthy size the next header cannot be found.
        return stop(
          offset,
          `member at ${offset}: pax size ${JSON.stringify(stated.slice(0, 40))} is not a valid number`,
        );
      }
      if (paxSize !== undefined) size = paxSize;
      if (!hasData(flag)) size = 0;
    }
    const padded = Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    if (!Number.isSafeInteger(dataOffset + padded) || dataOffset + size > src.size) {
      return stop(offset, `member data (${size} bytes at ${dataOffset}) runs past the end of the archive`);
    }
    const next = Math.min(dataOffset + padded, src.size);

    if (flag === 'x' || flag === 'g') {
      pendingStart ??= offset;
      if (size > lim.maxPaxBytes) {
        problems.push({
          offset,
          message: `pax header of ${size} bytes exceeds the ${lim.maxPaxBytes}-byte cap`,
        });
        if (flag === 'x') skipNext ??= 'its pax header was too large to read';
      } else {
        const { records, error } = parsePaxRecords(
          src.read(dataOffset, size, 'pax header'),
          lim.maxPaxRecords,
        );
        if (error !== undefined) {
          problems.push({ offset, message: `malformed pax header: ${error}` });
          if (flag === 'x') skipNext ??= 'its pax header is malformed';
        }
        const target = flag === 'x' ? local : global;
        for (const [k, v] of records) target.set(k, v);
      }
      offset = next;
      continue;
    }
    if (flag === 'L' || flag === 'K') {
      pendingStart ??= offset;
      if (size > lim.maxNameBytes + 1) {
        problems.push({
          offset,
          message: `GNU long ${flag === 'L' ? 'name' : 'link name'} of ${size} bytes exceeds the ${lim.maxNameBytes}-byte cap`,
        });
        skipNext ??= 'its long name was too long';
      } else {
        const text = cString(src.read(dataOffset, size, 'GNU long name'), 0, size);
        if (flag === 'L') longName = text;
        else longLink = text;
      }
      offset = next;
      continue;
    }

    // A real member: its own header, with whatever extension headers came before it.
    const ext = local;
    const headerOffset = pendingStart ?? offset;
    const usedPax = ext.size > 0 || global.size > 0;
    const sparse = flag === 'S' || [...ext.keys(), ...global.keys()].some((k) => k.startsWith('GNU.sparse.'));
    const name =
      (sparse ? paxString(ext, global, 'GNU.sparse.name') : undefined) ??
      paxString(ext, global, 'path') ??
      longName ??
      (h.prefix !== '' ? `${h.prefix}/${h.name}` : h.name);
    const linkName = paxString(ext, global, 'linkpath') ?? longLink ?? h.linkName;
    const lostName = skipNext;
    local = new Map();
    longName = undefined;
    longLink = undefined;
    pendingStart = undefined;
    skipNext = undefined;
    offset = next;

    if (lostName !== undefined) {
      problems.push({ offset: headerOffset, message: `member ${JSON.stringify(name)} skipped: ${lostName}` });
      continue;
    }
    if (Buffer.byteLength(name) > lim.maxNameBytes || Buffer.byteLength(linkName) > lim.maxNameBytes) {
      problems.push({
        offset: headerOffset,
        message: `member name longer than ${lim.maxNameBytes} bytes (skipped)`,
      });
      continue;
    }
    if (name === '') {
      problems.push({ offset: headerOffset, message: 'member with an empty name (skipped)' });
      continue;
    }
    if (members.length >= lim.maxMembers) {
      return stop(headerOffset, `more than ${lim.maxMembers} members`);
    }
    const member: TarMember = {
      name,
      type: sparse ? 'sparse' : typeOf(flag),
      typeflag: flag,
      size,
      dataOffset,
      headerOffset,
      mode: h.mode & 0o7777,
      uid: paxNumber(ext, 'uid', true) ?? paxNumber(global, 'uid', true) ?? h.uid,
      gid: paxNumber(ext, 'gid', true) ?? paxNumber(global, 'gid', true) ?? h.gid,
      mtime: paxNumber(ext, 'mtime', false) ?? paxNumber(global, 'mtime', false) ?? h.mtime,
      format: h.magic,
      pax: usedPax,
    };
    const uname = paxString(ext, global, 'uname') ?? h.uname;
    const gname = paxString(ext, global, 'gname') ?? h.gname;
    if (linkName !== '') member.linkName = linkName;
    if (uname !== '') member.uname = uname;
    if (gname !== '') member.gname = gname;
    members.push(member);
  }
  if (pendingStart !== undefined) {
    problems.push({
      offset: pendingStart,
      message: 'extension header (pax or GNU long name) with no member after it',
    });
  }
  return { members, problems, complete: true };
}

function notTar(file: string, why: string): HyperwardError {
  return new HyperwardError('E_UNSUPPORTED_FORMAT', `not a tar archive: ${why}`, {
    file,
    layer: 'tar header',
    offset: 0,
  });
}
