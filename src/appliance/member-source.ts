/**
 * A `FileSource` over byte ranges of another file: an OVA member read in place, or the chunks of a chunked OVF
 * file (`ovf:chunkSize`) read as one. The container readers (`openVmdk`, `openQcow2`...) take a `FileSource`, so a
 * disk inside an archive is opened with them unchanged, and nothing is ever unpacked.
 */
import { HyperwardError } from '../errors.js';
import { FileSource, newReadStats, type ReadStats } from '../source/file.js';

/** `length` bytes at `offset` of the underlying file. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** Most ranges one source may join (a chunked OVF file of many GiB in 1 GiB chunks needs a few dozen). */
export const MAX_RANGES = 100_000;

/**
 * Reads the concatenation of `ranges` of the file at `archivePath` as if it were a file of its own: offset 0 is the
 * first byte of the first range and `size` is their total length. Reads past `size` are errors, as for a file.
 *
 * It is a `FileSource` (a subclass) so the container openers accept it; the descriptor it reads through is its
 * own, opened read-only, and `close` releases it. `path` is a display name (`archive.ova!disk1.vmdk`), not a path
 * on disk: nothing may resolve other files relative to it.
 *
 * @example
 * const src = new MemberSource('app.ova', 'app.ova!disk1.vmdk', [{ offset: 2048, length: 1_048_576 }]);
 * const dev = openVmdk(src, memberContext(src.path));
 */
export class MemberSource extends FileSource {
  declare readonly path: string;
  declare readonly size: number;
  private readonly whole: FileSource;
  /** Start of each range within this source, ascending; same length as `ranges`. */
  private readonly starts: number[];
  private readonly ranges: readonly ByteRange[];

  /**
   * @param archivePath the file holding the bytes
   * @param displayName the name errors and reports use
   * @param ranges where the bytes are, in order
   * @throws HyperwardError E_IMAGE_CORRUPT when a range lies outside the file, E_LIMIT past {@link MAX_RANGES}
   */
  constructor(archivePath: string, displayName: string, ranges: readonly ByteRange[], stats?: ReadStats) {
    // The base class opens the file to stat it; that descriptor is released at once and all reads go through
    // `whole`, which counts into the caller's statistics.
    super(archivePath, newReadStats());
    super.close();
    if (ranges.length > MAX_RANGES) {
      throw new HyperwardError('E_LIMIT', `${ranges.length} byte ranges (max ${MAX_RANGES})`, {
        file: displayName,
      });
    }
    const whole = new FileSource(archivePath, stats);
    const starts: number[] = [];
    let total = 0;
    for (const r of ranges) {
      if (
        !Number.isSafeInteger(r.offset) ||
        !Number.isSafeInteger(r.length) ||
        r.offset < 0 ||
        r.length < 0 ||
        r.offset + r.length > whole.size
      ) {
        whole.close();
        throw new HyperwardError(
          'E_IMAGE_CORRUPT',
          `member bytes (${r.length} at ${r.offset}) lie outside the archive (size ${whole.size})`,
          { file: displayName, layer: 'archive member' },
        );
      }
      starts.push(total);
      total += r.length;
    }
    this.whole = whole;
    this.starts = starts;
    this.ranges = ranges.map((r) => ({ offset: r.offset, length: r.length }));
    this.path = displayName;
    this.size = total;
  }

  /** Reads `length` bytes at `offset` of the joined ranges into `buf` at `bufOffset`; past the end is an error. */
  override readInto(buf: Buffer, bufOffset: number, length: number, offset: number, layer = 'file'): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new HyperwardError('E_IMAGE_CORRUPT', `invalid read of ${length} bytes`, {
        file: this.path,
        layer,
        offset,
      });
    }
    if (offset + length > this.size) {
      throw new HyperwardError(
        'E_IMAGE_CORRUPT',
        `${length} bytes needed but the member ends at ${this.size} (truncated, or a pointer past the end)`,
        { file: this.path, layer, offset },
      );
    }
    let done = 0;
    let i = this.rangeAt(offset);
    while (done < length) {
      const r = this.ranges[i]!;
      const within = offset + done - this.starts[i]!;
      const n = Math.min(r.length - within, length - done);
      if (n > 0) this.whole.readInto(buf, bufOffset + done, n, r.offset + within, layer);
      done += Math.max(n, 0);
      i++;
    }
  }

  override close(): void {
    this.whole.close();
    super.close();
  }

  /** Index of the range holding byte `offset` (binary search over the starts; empty ranges are passed over). */
  private rangeAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // Several ranges may start at the same offset when some are empty: take the first non-empty one.
    while (lo < this.ranges.length - 1 && this.ranges[lo]!.length === 0) lo++;
    return lo;
  }
}
