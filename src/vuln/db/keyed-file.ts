/**
 * Keyed files: a sidecar of the advisory database (`store.ts`) that maps (section, key) to a blob, read-only at
 * run time and built for looking up many keys at once — the installed package names of one distro release —
 * with a handful of positioned reads (`readSync` with a position): no whole-file read, no mmap. The database's
 * import writes it (`writeKeyedFile`, atomically); the matcher reads it (`KeyedFile`).
 *
 * Layout (integers little-endian; offsets and lengths are u32, so a file is smaller than 4 GiB — the writer
 * refuses to write a larger one):
 *
 *     header (288 bytes, at offset 0)
 *       magic `HWKF` · version (u16, `KEYED_FILE_VERSION`) · flags (u16, 0) · file length (u32)
 *       · directory offset (u32) · directory length (u32) · tag length (u16) · tag (UTF-8, at most 256 bytes,
 *       zero-padded to 256) · 10 zero bytes
 *     per section, in the order given:
 *       records, in the order given: key length in bytes (u16) · key (UTF-16LE) · blob length (u32) · blob
 *       hash table: slot count (a power of two, at least 8; the writer takes the smallest ≥ 4/3 × entry count, so
 *       at most three quarters of the slots are in use) slots of 12 bytes:
 *         hash of the key (u32, 0: empty slot) · record offset (u32) · record length (u32)
 *     directory (at the end of the file):
 *       section count (u32) · per section: name length (u16) · name (UTF-8, at most 1024 bytes)
 *       · data offset (u32: its first record) · table offset (u32) · slot count (u32) · entry count (u32)
 *       · longest probe (u32: the largest distance of an entry's slot from its hash's home slot)
 *
 * Keys are stored as UTF-16LE so that any JavaScript string — lone surrogates included — is a key of its own and
 * a stored key equals a looked-up one exactly when their code units do. A key has at most 4096 code units, a blob
 * at most 64 MiB. The hash is FNV-1a (32 bits) over the key's UTF-16 code units, with 0 mapped to 1 (`keyHash`).
 * The table is probed linearly from the slot `hash & (slots - 1)`; a slot whose hash matches is confirmed by the
 * key bytes of its record, so a collision never gives another key's blob.
 *
 * A lookup never reads a whole table: it probes through a window of at most 4096 slots (48 KiB, one buffer the process
 * reuses), taking the keys in the order of their home slots, so that the window only moves forward and each part of the
 * table is read about once per round of probes (a window starts at the home slot of the key whose probe needs it; a
 * probe that wraps from the last slot to slot 0 reads a window at 0, then the next key reads its own again). It then
 * reads the candidate records in file order, one read per run of records less than 16 KiB apart (at most 256 KiB a
 * run), into a read buffer the process reuses, and copies each blob found into one buffer of the round's blobs. A key
 * whose candidate turns out to be another key (a hash collision) is probed further in another such round. A key written
 * twice in a section: the last one wins (the writer keeps a key → slot map per section; the earlier record stays in the
 * file, unreferenced). A writer refuses a section whose table would need a probe longer than 4096 slots (only thousands
 * of keys with one 32-bit hash, crafted to collide, can do that).
 *
 * Every parser here assumes its input is hostile: each header field, directory entry, table slot and record is checked
 * against the file before it is used (a table slot when a probe reaches it: a used slot no farther from its hash's home
 * than the longest probe; a candidate's record of a possible length, inside the section's data), probing stops after
 * the longest probe (at most 4096 slots), the records read must not overlap (so one round of reads holds at most the
 * section's data in memory, besides the read buffer of 256 KiB), and a file cut short after it was opened is noticed on
 * the short read. Slots no probe reaches are not checked, so the directory's entry count is checked against the slot
 * count only (fewer entries than slots), not against the slots in use: a miscounted directory goes unnoticed unless it
 * breaks another check — harmlessly, since bounds do not depend on it. A damaged file gives a `HyperwardError` (`E_IO`)
 * naming the file, the layer and the offset — never another exception, never a hang. There is no checksum: a changed
 * byte inside a blob (or a key, which then is not found) goes unnoticed; the blob's own parser must check it, as
 * `packed.ts` does.
 *
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { HyperwardError } from '../../errors.js';
import { processAlive } from '../../pid.js';

/** The format version in the header; bump with any change to the layout. */
export const KEYED_FILE_VERSION = 1;

const MAGIC = Buffer.from('HWKF', 'latin1');
const HEADER_SIZE = 288;
const H_VERSION = 4;
const H_FLAGS = 6;
const H_FILE_LENGTH = 8;
const H_DIR_OFFSET = 12;
const H_DIR_LENGTH = 16;
const H_TAG_LENGTH = 20;
const H_TAG = 22;

const MAX_TAG_BYTES = 256;
const MAX_SECTION_NAME_BYTES = 1024;
/** Longest key, in UTF-16 code units (any key of at most 4096 UTF-8 bytes fits). */
const MAX_KEY_UNITS = 4096;
const MAX_KEY_BYTES = 2 * MAX_KEY_UNITS;
const MAX_BLOB = 64 * 1024 * 1024;
/** Key length (u16) and blob length (u32). */
const RECORD_OVERHEAD = 6;
const MAX_RECORD = RECORD_OVERHEAD + MAX_KEY_BYTES + MAX_BLOB;
const MAX_FILE = 0xffffffff;

const SLOT_SIZE = 12;
const MIN_SLOTS = 8;
const MAX_SLOTS = 2 ** 26;
/** The most keys a section may have: its table, at most three quarters full, has at most `MAX_SLOTS` slots. */
const MAX_ENTRIES = (MAX_SLOTS / 4) * 3;
/** A lookup reads a table through a window of this many slots. */
const WINDOW_SLOTS = 4096;
/** The longest probe a table may need; a writer whose keys cluster more than this refuses them. */
const MAX_PROBE = 4096;

const MAX_DIRECTORY = 16 * 1024 * 1024;
/** Name length (u16) and five u32. */
const DIR_ENTRY_FIXED = 22;

/**
 * Records closer than this in the file are read with one read (the bytes between are read and ignored): a read
 * system call costs about as much as copying 10–20 KiB more (1.3–2.5 µs against 0.1 µs per KiB, measured on the
 * project's machines).
 */
const READ_GAP = 16 * 1024;
/** The longest run of records read at once into the shared scratch buffer (`scratch`). */
const SPAN_MAX = 256 * 1024;
const WRITE_BUFFER = 1 << 20;
const SORT_PACK = 2 ** 20;

const LAYER_HEADER = 'keyed file header';
const LAYER_DIRECTORY = 'keyed file directory';
const LAYER_TABLE = 'keyed file table';
const LAYER_RECORD = 'keyed file record';

/**
 * The hash of a key: FNV-1a (32 bits) over its UTF-16 code units, never 0 (0 marks an empty slot; a computed 0
 * becomes 1). Exported for tests.
 */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h >>>= 0;
  return h === 0 ? 1 : h;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

interface SectionPlan {
  name: Buffer;
  dataOffset: number;
  tableOffset: number;
  slots: number;
  entries: number;
  maxProbe: number;
}

/** Writes every byte of `buf[from, from + length)` at `position`. */
function writeAll(fd: number, buf: Uint8Array, from: number, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(fd, buf, from + done, length - done, position + done);
}

/** Sequential output through a buffer, counting the file position and refusing to pass 4 GiB. */
class Output {
  private readonly buf = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  /** The file position of the next byte. */
  position: number;

  constructor(
    private readonly fd: number,
    start: number,
  ) {
    this.position = start;
  }

  /** Throws unless `n` more bytes keep the file under 4 GiB. */
  private reserve(n: number): void {
    if (this.position + n > MAX_FILE) {
      throw new HyperwardError('E_LIMIT', 'a keyed file cannot exceed 4 GiB (its offsets are 32-bit)');
    }
  }

  flush(): void {
    if (this.used === 0) return;
    writeAll(this.fd, this.buf, 0, this.used, this.position - this.used);
    this.used = 0;
  }

  write(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    if (bytes.length > WRITE_BUFFER / 2) {
      this.flush();
      writeAll(this.fd, bytes, 0, bytes.length, this.position);
    } else {
      if (this.used + bytes.length > WRITE_BUFFER) this.flush();
      this.buf.set(bytes, this.used);
      this.used += bytes.length;
    }
    this.position += bytes.length;
  }

  /** Writes one record; returns its offset. */
  record(key: string, blob: Uint8Array): number {
    const keyBytes = 2 * key.length;
    this.reserve(RECORD_OVERHEAD + keyBytes + blob.length);
    const offset = this.position;
    if (this.used + RECORD_OVERHEAD + keyBytes > WRITE_BUFFER) this.flush();
    this.buf.writeUInt16LE(keyBytes, this.used);
    this.buf.write(key, this.used + 2, keyBytes, 'utf16le');
    this.buf.writeUInt32LE(blob.length, this.used + 2 + keyBytes);
    this.used += RECORD_OVERHEAD + keyBytes;
    this.position += RECORD_OVERHEAD + keyBytes;
    this.write(blob);
    return offset;
  }
}

/** The UTF-8 bytes of a name or tag; refuses strings that UTF-8 cannot keep exactly (lone surrogates). */
function utf8Of(text: string, max: number, what: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.toString('utf8') !== text) {
    throw new HyperwardError(
      'E_USAGE',
      `keyed file ${what} ${JSON.stringify(text)} is not well-formed Unicode`,
    );
  }
  if (bytes.length > max) {
    throw new HyperwardError(
      'E_LIMIT',
      `keyed file ${what} is ${bytes.length} bytes of UTF-8, more than ${max}`,
    );
  }
  return bytes;
}

/** Writes the records of one section, then its table; returns its directory entry. */
function writeSection(
  out: Output,
  name: string,
  nameBytes: Buffer,
  entries: Iterable<[key: string, blob: Uint8Array]>,
): SectionPlan {
  const dataOffset = out.position;
  const index = new Map<string, number>();
  const hashes: number[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  for (const [key, blob] of entries) {
    if (key.length > MAX_KEY_UNITS) {
      throw new HyperwardError(
        'E_LIMIT',
        `keyed file section ${JSON.stringify(name)}: a key of ${key.length} UTF-16 code units (at most ${MAX_KEY_UNITS})`,
      );
    }
    if (blob.length > MAX_BLOB) {
      throw new HyperwardError(
        'E_LIMIT',
        `keyed file section ${JSON.stringify(name)}: the blob of ${JSON.stringify(key.slice(0, 100))} is ${blob.length} bytes (at most ${MAX_BLOB})`,
      );
    }
    const offset = out.record(key, blob);
    const length = RECORD_OVERHEAD + 2 * key.length + blob.length;
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, hashes.length);
      hashes.push(keyHash(key));
      offsets.push(offset);
      lengths.push(length);
    } else {
      // The last one wins; the earlier record stays in the file, unreferenced.
      offsets[at] = offset;
      lengths[at] = length;
    }
  }
  const count = hashes.length;
  if (count > MAX_ENTRIES) {
    throw new HyperwardError(
      'E_LIMIT',
      `keyed file section ${JSON.stringify(name)} has ${count} keys (at most ${MAX_ENTRIES})`,
    );
  }
  // The smallest power of two ≥ 4/3 × count: at most three quarters of the slots in use (at least one empty).
  const wanted = Math.ceil((4 * count) / 3);
  let slots = MIN_SLOTS;
  while (slots < wanted) slots *= 2;
  const mask = slots - 1;
  const table = Buffer.alloc(slots * SLOT_SIZE);
  let maxProbe = 0;
  for (let i = 0; i < count; i++) {
    const h = hashes[i]!;
    let d = 0;
    while (table.readUInt32LE(((h + d) & mask) * SLOT_SIZE) !== 0) d++;
    const at = ((h + d) & mask) * SLOT_SIZE;
    table.writeUInt32LE(h, at);
    table.writeUInt32LE(offsets[i]!, at + 4);
    table.writeUInt32LE(lengths[i]!, at + 8);
    if (d > maxProbe) maxProbe = d;
  }
  if (maxProbe > MAX_PROBE) {
    throw new HyperwardError(
      'E_LIMIT',
      `keyed file section ${JSON.stringify(name)}: too many keys share hash slots (a probe of ${maxProbe} slots, at most ${MAX_PROBE})`,
    );
  }
  const tableOffset = out.position;
  out.write(table);
  return { name: nameBytes, dataOffset, tableOffset, slots, entries: count, maxProbe };
}

function encodeDirectory(plans: readonly SectionPlan[]): Buffer {
  let size = 4;
  for (const p of plans) size += DIR_ENTRY_FIXED + p.name.length;
  if (size > MAX_DIRECTORY) {
    throw new HyperwardError('E_LIMIT', `a keyed file directory cannot exceed ${MAX_DIRECTORY} bytes`);
  }
  const dir = Buffer.alloc(size);
  let pos = dir.writeUInt32LE(plans.length, 0);
  for (const p of plans) {
    pos = dir.writeUInt16LE(p.name.length, pos);
    pos += p.name.copy(dir, pos);
    pos = dir.writeUInt32LE(p.dataOffset, pos);
    pos = dir.writeUInt32LE(p.tableOffset, pos);
    pos = dir.writeUInt32LE(p.slots, pos);
    pos = dir.writeUInt32LE(p.entries, pos);
    pos = dir.writeUInt32LE(p.maxProbe, pos);
  }
  return dir;
}

/** fsync of a directory, where the platform has one. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Removes the temporary files of earlier writes of `path` whose writer is gone (`${path}.tmp-<pid>-<hex>` of a
 * process that no longer exists: killed before it could clean up). Those of live processes are left alone; what
 * cannot be listed or removed is left too.
 */
function removeAbandonedTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d{1,10})-[0-9a-f]{12}$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

/**
 * Writes a keyed file atomically: to `${path}.tmp-<pid>-<random>` (created exclusively, mode 0644), fsync'd, then
 * renamed over `path`, then the directory is fsync'd (where a directory can be). On any error the temporary file
 * is removed and the error rethrown; `path` keeps what it had. Temporary files left by writers that were killed
 * (their process is gone) are removed first.
 *
 * Sections are written in the order given and must have distinct names (well-formed Unicode, at most 1024 bytes
 * of UTF-8). The entries of a section come in any order and are written as they come (the writer holds only a
 * key → (hash, offset, length) map per section); a key given twice in a section: the last one wins (the earlier
 * record stays in the file, unreferenced). A key has at most 4096 UTF-16 code units (lone surrogates are fine),
 * a blob at most 64 MiB. `tag` (well-formed Unicode, at most 256 bytes of UTF-8) is given back as
 * `KeyedFile.tag`. Throws a `HyperwardError` (`E_USAGE`, `E_LIMIT`) on input it cannot store — including a file
 * that would reach 4 GiB — and whatever the iterables throw.
 *
 * @example
 * writeKeyedFile('/var/lib/hyperward/advisories.keyed', generation, [
 *   ['debian:12', [['openssl', packedRow1], ['zlib', packedRow2]]],
 *   ['ubuntu:22.04', rowsOf('ubuntu:22.04')], // any iterable, e.g. a generator over query results
 * ]);
 */
export function writeKeyedFile(
  path: string,
  tag: string,
  sections: Iterable<[section: string, entries: Iterable<[key: string, blob: Uint8Array]>]>,
): void {
  const tagBytes = utf8Of(tag, MAX_TAG_BYTES, 'tag');
  removeAbandonedTemps(path);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined = openSync(tmp, 'wx', 0o644);
  try {
    const out = new Output(fd, HEADER_SIZE);
    const plans: SectionPlan[] = [];
    const names = new Set<string>();
    for (const [name, entries] of sections) {
      const nameBytes = utf8Of(name, MAX_SECTION_NAME_BYTES, 'section name');
      if (names.has(name)) {
        throw new HyperwardError('E_USAGE', `keyed file section ${JSON.stringify(name)} is given twice`);
      }
      names.add(name);
      plans.push(writeSection(out, name, nameBytes, entries));
    }
    const dirOffset = out.position;
    out.write(encodeDirectory(plans));
    out.flush();
    const header = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(header, 0);
    header.writeUInt16LE(KEYED_FILE_VERSION, H_VERSION);
    header.writeUInt16LE(0, H_FLAGS);
    header.writeUInt32LE(out.position, H_FILE_LENGTH);
    header.writeUInt32LE(dirOffset, H_DIR_OFFSET);
    header.writeUInt32LE(out.position - dirOffset, H_DIR_LENGTH);
    header.writeUInt16LE(tagBytes.length, H_TAG_LENGTH);
    tagBytes.copy(header, H_TAG);
    writeAll(fd, header, 0, HEADER_SIZE, 0);
    fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // already failing; the file may be gone
    }
    throw e;
  }
  syncDirectory(dirname(path));
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

interface Section {
  dataOffset: number;
  tableOffset: number;
  slots: number;
  maxProbe: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** `keys[i]` compared with the UTF-16LE key of `length` bytes at `buf[at]`. */
function keyEquals(buf: Buffer, at: number, length: number, key: string): boolean {
  if (length !== 2 * key.length) return false;
  for (let i = 0; i < key.length; i++) {
    if ((buf[at + 2 * i]! | (buf[at + 2 * i + 1]! << 8)) !== key.charCodeAt(i)) return false;
  }
  return true;
}

/** The indexes of `offsets` (u32 each: record offsets, home slots) in the order of their values. */
function sortedByOffset(offsets: readonly number[]): ArrayLike<number> {
  const n = offsets.length;
  if (n >= SORT_PACK) {
    return Array.from({ length: n }, (_, i) => i).sort((a, b) => offsets[a]! - offsets[b]! || a - b);
  }
  // Offset and index packed in one double (offset × 2^20 + index < 2^52): a numeric sort without a callback.
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = offsets[i]! * SORT_PACK + i;
  packed.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = packed[i]! % SORT_PACK;
  return order;
}

/**
 * The buffer lookups read records into, shared by every `KeyedFile` of the process and reused (lookups are
 * synchronous, and nothing read into it outlives the call): touching fresh memory costs a page fault per page.
 */
let scratchBuffer: Buffer | undefined;
function scratch(): Buffer {
  return (scratchBuffer ??= Buffer.allocUnsafeSlow(SPAN_MAX));
}

/** The table window of lookups (per slot: hash, record offset, record length), shared as `scratch` is. */
let windowBuffer: Uint32Array | undefined;

/** A keyed file opened for lookups. Holds a file descriptor until `close`. */
export class KeyedFile {
  /** The tag given to `writeKeyedFile` (the caller stores a generation id there, to tell a stale file). */
  readonly tag: string;
  readonly path: string;
  private fd: number | undefined;
  private readonly bySection: Map<string, Section>;

  private constructor(path: string, fd: number, tag: string, sections: Map<string, Section>) {
    this.path = path;
    this.fd = fd;
    this.tag = tag;
    this.bySection = sections;
  }

  /**
   * Opens a keyed file and checks its header and directory (table slots and records are checked when a lookup
   * reaches them). Returns undefined when the file does not exist; throws a `HyperwardError` (`E_IO`) naming the
   * file, the layer and the offset when it is damaged, of another format version, cannot be read, or is not a
   * regular file (opened without blocking: a FIFO at the path is refused at once, not waited on). The descriptor
   * is closed whenever it throws.
   *
   * @example
   * const kf = KeyedFile.open(sidecarPath);
   * if (kf === undefined || kf.tag !== generation) {
   *   // no sidecar, or one from another import: read the database instead
   * }
   */
  static open(path: string): KeyedFile | undefined {
    let fd: number;
    try {
      // Non-blocking: opening a FIFO for reading would otherwise wait for a writer, forever (it is then refused as
      // not a regular file). A regular file reads as usual. No controlling terminal from a tty put there.
      fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new HyperwardError(
        'E_IO',
        `cannot open: ${(e as Error).message}`,
        { file: path, layer: LAYER_HEADER },
        { cause: e },
      );
    }
    try {
      const { tag, sections } = readHeaderAndDirectory(fd, path, regularFileSize(fd, path));
      return new KeyedFile(path, fd, tag, sections);
    } catch (e) {
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
      throw e;
    }
  }

  /** Section names in the file, in the order they were written. */
  sections(): string[] {
    return [...this.bySection.keys()];
  }

  /**
   * The blobs of the given keys of one section, by key. Keys absent from the file are absent from the map; an
   * unknown section gives an empty map; a key may be given more than once (its record is read once). The blobs
   * may be subarrays of one shared Buffer (copy one to keep it apart from the others). Throws a `HyperwardError`
   * (`E_IO`) when the section's table or a record read is damaged, `E_USAGE` after `close`.
   *
   * @example
   * const rows = kf.lookup('debian:12', installed.map((p) => p.name));
   * for (const [name, blob] of rows) evaluate(name, blob);
   */
  lookup(section: string, keys: readonly string[]): Map<string, Buffer> {
    const fd = this.fd;
    if (fd === undefined) {
      throw new HyperwardError('E_USAGE', 'the keyed file is closed', { file: this.path });
    }
    const found = new Map<string, Buffer>();
    const sec = this.bySection.get(section);
    if (sec === undefined || keys.length === 0) return found;
    const mask = sec.slots - 1;
    const maxProbe = sec.maxProbe;
    const win = (windowBuffer ??= new Uint32Array(WINDOW_SLOTS * 3));
    // The slots [winStart, winEnd) of this section's table are in `win` (none yet).
    let winStart = 0;
    let winEnd = 0;

    // Keys still to find, each with its hash and the probe distance to go on from.
    let pending: string[] = [];
    let pendingHash: number[] = [];
    let pendingStep: number[] = [];
    for (const key of keys) {
      if (key.length > MAX_KEY_UNITS) continue;
      pending.push(key);
      pendingHash.push(keyHash(key));
      pendingStep.push(0);
    }

    for (let round = 0; pending.length > 0; round++) {
      // Probe: the next slot of each key whose hash is the key's, the keys in the order of their home slots.
      const homes = new Array<number>(pending.length);
      for (let i = 0; i < pending.length; i++) homes[i] = pendingHash[i]! & mask;
      const byHome = sortedByOffset(homes);
      const cKey: string[] = [];
      const cHash: number[] = [];
      const cStep: number[] = [];
      const cOffset: number[] = [];
      const cLength: number[] = [];
      for (let k = 0; k < byHome.length; k++) {
        const i = byHome[k]!;
        const h = pendingHash[i]!;
        const home = homes[i]!;
        for (let d = pendingStep[i]!; d <= maxProbe; d++) {
          const s = (home + d) & mask;
          if (s < winStart || s >= winEnd) {
            // A window from the key's home slot when it holds s (the keys after this one start there or later),
            // else from s (past the window's reach, or wrapped to the start of the table).
            winStart = s >= home && s - home < WINDOW_SLOTS ? home : s;
            winEnd = Math.min(winStart + WINDOW_SLOTS, sec.slots);
            this.readSlots(fd, sec, win, winStart, winEnd - winStart);
          }
          const w = 3 * (s - winStart);
          const sh = win[w]!;
          if (sh === 0) break;
          if (((s - sh) & mask) > maxProbe) {
            throw this.damaged(
              LAYER_TABLE,
              `slot ${s} is farther from its hash's slot than the longest probe`,
              sec.tableOffset + s * SLOT_SIZE,
            );
          }
          if (sh === h) {
            const offset = win[w + 1]!;
            const length = win[w + 2]!;
            this.checkSlot(sec, s, offset, length);
            cKey.push(pending[i]!);
            cHash.push(h);
            cStep.push(d + 1);
            cOffset.push(offset);
            cLength.push(length);
            break;
          }
        }
      }
      const n = cKey.length;
      if (n === 0) break;

      // The distinct records, in file order: two slots may give one record (a key asked twice, or a collision),
      // and records must not otherwise overlap — checked before anything is allocated or read, so that what a round
      // holds is bounded by the section's data.
      const order = sortedByOffset(cOffset);
      const recOffset: number[] = [];
      const recLength: number[] = [];
      /** Per record, where its candidates start in `order`. */
      const recFirst: number[] = [];
      let blobBound = 0;
      let prevEnd = -1;
      for (let k = 0; k < n; k++) {
        const i = order[k]!;
        const offset = cOffset[i]!;
        const length = cLength[i]!;
        const r = recOffset.length - 1;
        if (r >= 0 && offset === recOffset[r]) {
          if (length !== recLength[r]) {
            throw this.damaged(LAYER_TABLE, 'two slots give one record two lengths', offset);
          }
          continue;
        }
        if (offset < prevEnd) throw this.damaged(LAYER_TABLE, 'two records overlap', offset);
        recOffset.push(offset);
        recLength.push(length);
        recFirst.push(k);
        blobBound += length - RECORD_OVERHEAD;
        prevEnd = offset + length;
      }
      const records = recOffset.length;
      recFirst.push(n);

      // Read them, one read per run of records that are close in the file (the bytes between are read and
      // ignored), into the scratch buffer; each blob found is copied into one buffer of this round's blobs (at most
      // one per record: a record holds one key). Fresh memory is costly to touch (a page fault per page), so the
      // scratch is reused from one lookup to the next and only the blobs are kept.
      const out = Buffer.allocUnsafe(blobBound);
      let outAt = 0;
      const nextKey: string[] = [];
      const nextHash: number[] = [];
      const nextStep: number[] = [];
      for (let r = 0; r < records;) {
        // The run: records from r on, while the next starts at most READ_GAP after the run's end and the run stays
        // within SPAN_MAX (a record longer than that is a run of its own, in a buffer of its own).
        const spanStart = recOffset[r]!;
        let spanEnd = spanStart + recLength[r]!;
        let last = r + 1;
        for (; last < records; last++) {
          const end = recOffset[last]! + recLength[last]!;
          if (recOffset[last]! - spanEnd > READ_GAP || end - spanStart > SPAN_MAX) break;
          spanEnd = end;
        }
        const span = spanEnd - spanStart;
        const buf = span <= SPAN_MAX ? scratch() : Buffer.allocUnsafe(span);
        readExactly(fd, this.path, buf, 0, span, spanStart, LAYER_RECORD);
        for (; r < last; r++) {
          const offset = recOffset[r]!;
          const length = recLength[r]!;
          const p = offset - spanStart;
          const keyBytes = buf[p]! | (buf[p + 1]! << 8);
          if (keyBytes % 2 !== 0 || keyBytes > MAX_KEY_BYTES || RECORD_OVERHEAD + keyBytes > length) {
            throw this.damaged(
              LAYER_RECORD,
              `a key length of ${keyBytes} bytes in a record of ${length}`,
              offset,
            );
          }
          const blobLength = buf.readUInt32LE(p + 2 + keyBytes);
          if (blobLength !== length - RECORD_OVERHEAD - keyBytes) {
            throw this.damaged(
              LAYER_RECORD,
              `a blob length of ${blobLength} bytes in a record of ${length} with a key of ${keyBytes}`,
              offset,
            );
          }
          let blob: Buffer | undefined;
          for (let k = recFirst[r]!; k < recFirst[r + 1]!; k++) {
            const i = order[k]!;
            const key = cKey[i]!;
            if (keyEquals(buf, p + 2, keyBytes, key)) {
              if (blob === undefined) {
                buf.copy(out, outAt, p + RECORD_OVERHEAD + keyBytes, p + length);
                blob = out.subarray(outAt, outAt + blobLength);
                outAt += blobLength;
              }
              found.set(key, blob);
            } else {
              // A collision: this key probes on in the next round.
              nextKey.push(key);
              nextHash.push(cHash[i]!);
              nextStep.push(cStep[i]!);
            }
          }
        }
      }
      pending = nextKey;
      pendingHash = nextHash;
      pendingStep = nextStep;
    }
    return found;
  }

  /** Closes the file descriptor; later lookups throw. Idempotent. */
  close(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    closeSync(fd);
  }

  private damaged(layer: string, message: string, offset: number): HyperwardError {
    return new HyperwardError('E_IO', `damaged keyed file: ${message}`, { file: this.path, layer, offset });
  }

  /** Reads `count` slots of a section's table, from slot `first`, into `win`. */
  private readSlots(fd: number, sec: Section, win: Uint32Array, first: number, count: number): void {
    const bytes = Buffer.from(win.buffer, win.byteOffset, count * SLOT_SIZE);
    readExactly(fd, this.path, bytes, 0, bytes.length, sec.tableOffset + first * SLOT_SIZE, LAYER_TABLE);
    if (!LITTLE_ENDIAN_HOST) bytes.swap32();
  }

  /** Checks the record a used slot gives: a possible length, inside the section's data. */
  private checkSlot(sec: Section, s: number, offset: number, length: number): void {
    const where = sec.tableOffset + s * SLOT_SIZE;
    if (length < RECORD_OVERHEAD || length > MAX_RECORD) {
      throw this.damaged(LAYER_TABLE, `slot ${s} gives a record length of ${length}`, where);
    }
    if (offset < sec.dataOffset || offset + length > sec.tableOffset) {
      throw this.damaged(
        LAYER_TABLE,
        `slot ${s} gives a record at ${offset} of ${length} bytes, outside the section's data [${sec.dataOffset}, ${sec.tableOffset})`,
        where,
      );
    }
  }
}

/** Reads exactly `length` bytes at `position` into `buf[at]`; a short read (a file cut short) is an `E_IO`. */
function readExactly(
  fd: number,
  file: string,
  buf: Uint8Array,
  at: number,
  length: number,
  position: number,
  layer: string,
): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, buf, at + done, length - done, position + done);
    } catch (e) {
      throw new HyperwardError(
        'E_IO',
        `cannot read: ${(e as Error).message}`,
        { file, layer, offset: position + done },
        { cause: e },
      );
    }
    if (n === 0) {
      throw new HyperwardError('E_IO', `the file ends before byte ${position + length} (cut short?)`, {
        file,
        layer,
        offset: position + done,
      });
    }
    done += n;
  }
}

/** The size of the file open as `fd`; anything but a regular file (a directory, FIFO, device, socket) is an `E_IO`. */
function regularFileSize(fd: number, file: string): number {
  let st;
  try {
    st = fstatSync(fd);
  } catch (e) {
    throw new HyperwardError(
      'E_IO',
      `cannot stat: ${(e as Error).message}`,
      { file, layer: LAYER_HEADER },
      { cause: e },
    );
  }
  if (!st.isFile()) {
    const kind = st.isDirectory()
      ? 'a directory'
      : st.isFIFO()
        ? 'a FIFO'
        : st.isSocket()
          ? 'a socket'
          : st.isCharacterDevice() || st.isBlockDevice()
            ? 'a device'
            : 'something else';
    throw new HyperwardError('E_IO', `not a regular file (${kind})`, {
      file,
      layer: LAYER_HEADER,
      offset: 0,
    });
  }
  return st.size;
}

/** Reads and checks the header and the directory of a regular file of `size` bytes. */
function readHeaderAndDirectory(
  fd: number,
  file: string,
  size: number,
): { tag: string; sections: Map<string, Section> } {
  const fail = (layer: string, message: string, offset: number): HyperwardError =>
    new HyperwardError('E_IO', `damaged keyed file: ${message}`, { file, layer, offset });
  if (size < HEADER_SIZE) throw fail(LAYER_HEADER, `${size} bytes, too short for a header`, 0);
  if (size > MAX_FILE) throw fail(LAYER_HEADER, `${size} bytes, more than a keyed file can be`, 0);
  const header = Buffer.alloc(HEADER_SIZE);
  readExactly(fd, file, header, 0, HEADER_SIZE, 0, LAYER_HEADER);
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw fail(LAYER_HEADER, 'no HWKF magic', 0);
  const version = header.readUInt16LE(H_VERSION);
  if (version !== KEYED_FILE_VERSION) {
    throw fail(LAYER_HEADER, `format version ${version}, this build reads ${KEYED_FILE_VERSION}`, H_VERSION);
  }
  const flags = header.readUInt16LE(H_FLAGS);
  if (flags !== 0) throw fail(LAYER_HEADER, `unknown flags 0x${flags.toString(16)}`, H_FLAGS);
  const fileLength = header.readUInt32LE(H_FILE_LENGTH);
  if (fileLength !== size) {
    throw fail(LAYER_HEADER, `the header says ${fileLength} bytes, the file has ${size}`, H_FILE_LENGTH);
  }
  const dirOffset = header.readUInt32LE(H_DIR_OFFSET);
  const dirLength = header.readUInt32LE(H_DIR_LENGTH);
  if (
    dirLength < 4 ||
    dirLength > MAX_DIRECTORY ||
    dirOffset < HEADER_SIZE ||
    dirOffset + dirLength !== size
  ) {
    throw fail(
      LAYER_HEADER,
      `a directory at ${dirOffset} of ${dirLength} bytes (it must end the file of ${size} bytes, at most ${MAX_DIRECTORY})`,
      H_DIR_OFFSET,
    );
  }
  const tagLength = header.readUInt16LE(H_TAG_LENGTH);
  if (tagLength > MAX_TAG_BYTES) throw fail(LAYER_HEADER, `a tag of ${tagLength} bytes`, H_TAG_LENGTH);
  let tag: string;
  try {
    tag = utf8.decode(header.subarray(H_TAG, H_TAG + tagLength));
  } catch {
    throw fail(LAYER_HEADER, 'the tag is not UTF-8', H_TAG);
  }

  const dir = Buffer.alloc(dirLength);
  readExactly(fd, file, dir, 0, dirLength, dirOffset, LAYER_DIRECTORY);
  const count = dir.readUInt32LE(0);
  if (count * DIR_ENTRY_FIXED > dirLength - 4) {
    throw fail(LAYER_DIRECTORY, `${count} sections cannot fit in ${dirLength} bytes`, dirOffset);
  }
  const sections = new Map<string, Section>();
  let pos = 4;
  for (let i = 0; i < count; i++) {
    const where = dirOffset + pos;
    if (pos + DIR_ENTRY_FIXED > dirLength) throw fail(LAYER_DIRECTORY, `section ${i} is cut short`, where);
    const nameLength = dir.readUInt16LE(pos);
    if (nameLength > MAX_SECTION_NAME_BYTES || pos + DIR_ENTRY_FIXED + nameLength > dirLength) {
      throw fail(LAYER_DIRECTORY, `section ${i} has a name of ${nameLength} bytes`, where);
    }
    let name: string;
    try {
      name = utf8.decode(dir.subarray(pos + 2, pos + 2 + nameLength));
    } catch {
      throw fail(LAYER_DIRECTORY, `the name of section ${i} is not UTF-8`, where);
    }
    if (sections.has(name))
      throw fail(LAYER_DIRECTORY, `section ${JSON.stringify(name)} is listed twice`, where);
    pos += 2 + nameLength;
    const dataOffset = dir.readUInt32LE(pos);
    const tableOffset = dir.readUInt32LE(pos + 4);
    const slots = dir.readUInt32LE(pos + 8);
    const entries = dir.readUInt32LE(pos + 12);
    const maxProbe = dir.readUInt32LE(pos + 16);
    pos += 20;
    const what = `section ${JSON.stringify(name)}`;
    if (slots < MIN_SLOTS || slots > MAX_SLOTS || (slots & (slots - 1)) !== 0) {
      throw fail(LAYER_DIRECTORY, `${what} has ${slots} slots (a power of two from 8 to 2^26)`, where);
    }
    if (entries >= slots)
      throw fail(LAYER_DIRECTORY, `${what} has ${entries} entries in ${slots} slots`, where);
    if (maxProbe >= slots || maxProbe > MAX_PROBE) {
      throw fail(LAYER_DIRECTORY, `${what} has a longest probe of ${maxProbe}`, where);
    }
    if (dataOffset < HEADER_SIZE || tableOffset < dataOffset || tableOffset + slots * SLOT_SIZE > dirOffset) {
      throw fail(
        LAYER_DIRECTORY,
        `${what} has its data at ${dataOffset} and its table of ${slots} slots at ${tableOffset}, outside [${HEADER_SIZE}, ${dirOffset})`,
        where,
      );
    }
    sections.set(name, { dataOffset, tableOffset, slots, maxProbe });
  }
  if (pos !== dirLength)
    throw fail(LAYER_DIRECTORY, `${dirLength - pos} bytes after the last section`, dirOffset + pos);
  return { tag, sections };
}
